-- apply_output_stride: timm's output_stride rule. Walking the graph in order,
-- a strided op that would take the reduction past output_stride keeps stride 1
-- and multiplies the dilation seen by every spatial op after it; the op itself
-- still uses the dilation of its input (timm's first_dilation). Sets
-- tensor.reduction and tensor.dilation, conv dilation and padding, and
-- turns a stride-2 average pool into timm's AvgPool2dSame(2, 1).
local ir = require("ir")

local SPATIAL = { conv = true, maxpool = true, avgpool = true } -- the ops with a stride

return function(model)
  local os = model.spec.output_stride
  local T = model.tensors
  local input = T[model.input]
  input.reduction, input.dilation = 1, 1
  for _, node in ipairs(model.nodes) do
    local x = T[node.inputs[1]]
    local y = T[node.output]
    local red, dil = x.reduction, x.dilation
    if not SPATIAL[node.kind] then
      for _, id in ipairs(node.inputs) do
        red = math.max(red, T[id].reduction)
        dil = math.max(dil, T[id].dilation)
      end
      y.reduction, y.dilation = red, dil
    else
      local s = node.stride
      if ir.dilated_by_output_stride(red, s, os) then
        node.stride = 1
        y.reduction, y.dilation = red, dil * s
        if node.kind == "avgpool" then
          node.same_pad = true           -- AvgPool2dSame: zero pad right/bottom, counted
          node.count_include_pad = true
        end
      else
        y.reduction, y.dilation = red * s, dil
      end
      if node.kind == "conv" then
        node.dilation = node.k > 1 and dil or 1
        local p = ((node.stride - 1) + node.dilation * (node.k - 1)) // 2
        node.pad = { p, p, p, p }
      end
    end
  end
  return model
end
