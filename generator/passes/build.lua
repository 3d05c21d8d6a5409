-- build: spec -> IR graph of the full timm model (stem, stages, head) at
-- output stride 32, from the architecture's family file in models/.
local ir = require("ir")

return function(spec, arch)
  local model = ir.new_model(spec, arch)
  return arch.build(model)
end
