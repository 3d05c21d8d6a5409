-- resnest.lua: timm's resnest family (timm/models/resnest.py). Being written.
return { variants = {}, build = function() error("resnest: not written yet") end }
