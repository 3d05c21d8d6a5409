-- densenet.lua: timm's densenet family (timm/models/densenet.py). Being written.
return { variants = {}, build = function() error("densenet: not written yet") end }
