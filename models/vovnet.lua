-- vovnet.lua: timm's vovnet family (timm/models/vovnet.py). Being written.
return { variants = {}, build = function() error("vovnet: not written yet") end }
