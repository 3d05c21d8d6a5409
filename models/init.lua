-- models/init.lua: the architecture catalogue. Maps each timm model name to its
-- family file and that family's registry entry (model_args and defaults).
local families = { "resnet", "densenet", "vovnet", "regnet", "resnest", "xception_aligned" }

local catalogue = {}

function catalogue.lookup(name)
  for _, fam in ipairs(families) do
    local mod = require(fam)
    local cfg = mod.variants[name]
    if cfg then return { name = name, family = fam, cfg = cfg, build = mod.build } end
  end
  return nil
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
