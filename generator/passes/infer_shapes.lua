-- infer_shapes: NHWC shape of every tensor from the spec's batch and input
-- size, by each op's shape rule (ops.lua; pools resolve their ceil_mode and
-- 'same' padding into explicit pads there); tensor.flat marks pooled vectors.
local ops = require("ops")
local util = require("util")

return function(model)
  local spec = model.spec
  local T = model.tensors
  T[model.input].shape = { spec.batch_size, spec.input_size[2], spec.input_size[3],
                           spec.input_size[1] }
  for _, node in ipairs(model.nodes) do
    local op = ops.get(node)
    local shape = op.shape(node, T[node.inputs[1]].shape, model)
    if shape[2] < 1 or shape[3] < 1 then
      util.fail("%s: input_size [%s] is too small: %s would have an empty output",
                spec.spec_path, table.concat(spec.input_size, ", "), node.name)
    end
    local y = T[node.output]
    y.shape = shape
    -- pooled vectors leave the model as [N, C], feature maps as [N, C, H, W]
    y.flat = op.flat or T[node.inputs[1]].flat or false
  end
  return model
end
