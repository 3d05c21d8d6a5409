-- regnet.lua: timm's regnet family (timm/models/regnet.py). Being written.
return { variants = {}, build = function() error("regnet: not written yet") end }
