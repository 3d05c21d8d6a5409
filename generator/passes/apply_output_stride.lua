-- apply_output_stride: timm's output_stride rule. Walking the graph in order,
-- a strided op that would take the reduction past output_stride keeps stride 1
-- and multiplies the dilation seen by every spatial op after it; the op itself
-- still uses the dilation of its input (timm's first_dilation). Sets
-- tensor.reduction and tensor.dilation; each spatial op (ops.lua) sets what
-- that changes for it (a conv's dilation and padding; a stride-2 average pool
-- becomes timm's AvgPool2dSame(2, 1)).
local ir = require("ir")
local ops = require("ops")

return function(model)
  local os = model.spec.output_stride
  local T = model.tensors
  local input = T[model.input]
  input.reduction, input.dilation = 1, 1
  for _, node in ipairs(model.nodes) do
    local x = T[node.inputs[1]]
    local y = T[node.output]
    local red, dil = x.reduction, x.dilation
    local op = ops.get(node)
    if not op.spatial then
      for _, id in ipairs(node.inputs) do
        red = math.max(red, T[id].reduction)
        dil = math.max(dil, T[id].dilation)
      end
      y.reduction, y.dilation = red, dil
    else
      local s = node.stride
      local dilated = ir.dilated_by_output_stride(red, s, os)
      if dilated then
        node.stride = 1
        y.reduction, y.dilation = red, dil * s
      else
        y.reduction, y.dilation = red * s, dil
      end
      op.on_output_stride(node, dil, dilated)
    end
  end
  return model
end
