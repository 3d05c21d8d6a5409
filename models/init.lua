-- models/init.lua: the architecture catalogue. Maps each timm model name to its
-- family file and that family's registry entry (model_args and defaults).
local families = { "resnet", "densenet", "vovnet", "regnet", "resnest", "xception_aligned",
                   "efficientnet", "mobilenetv3" }

local catalogue = {}

-- The entry of a name: its family, registry entry and timm's pretrained data
-- config (pretrained_cfgs.lua: input_size, interpolation, mean, std,
-- crop_pct, crop_mode), whose input_size is the default unless the family
-- sets its own.
function catalogue.lookup(name)
  for _, fam in ipairs(families) do
    local mod = require(fam)
    local cfg = mod.variants[name]
    if cfg then
      local pretrained = require("pretrained_cfgs")[name]
      cfg.input_size = cfg.input_size or (pretrained and pretrained.input_size)
      return { name = name, family = fam, cfg = cfg, build = mod.build, pretrained = pretrained }
    end
  end
  return nil
end

-- Whether timm has a model of that name (timm_names.lua), supported or not.
function catalogue.in_timm(name)
  for _, n in ipairs(require("timm_names")) do
    if n == name then return true end
  end
  return false
end

-- Every known name, sorted (for suggestions and listings).
function catalogue.names()
  local out = {}
  for _, fam in ipairs(families) do
    for name in pairs(require(fam).variants) do out[#out + 1] = name end
  end
  table.sort(out)
  return out
end

return catalogue
