-- xception_aligned.lua: timm's xception_aligned family (timm/models/xception_aligned.py). Being written.
return { variants = {}, build = function() error("xception_aligned: not written yet") end }
