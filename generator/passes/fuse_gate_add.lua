-- fuse_gate_add: a gate followed by the residual add it feeds (ECA and SE
-- ResNets: relu(x * gate + shortcut)) becomes one scale_add node, which
-- reads x and the shortcut once and writes once, where the two steps wrote x
-- * gate out and read it back. Fused only where the gated tensor is read by
-- nothing but the add and is not returned, and all three tensors are
-- float32 (an int8 model keeps its int8 forms).
local ir = require("ir")

return function(model)
  local T = model.tensors
  local foldable, producer = ir.foldable(model)
  local drop = {}
  for _, node in ipairs(model.nodes) do
    if node.kind == "add" then
      for side = 1, 2 do
        local id = node.inputs[side]
        local i = producer[id]
        local gate = i and model.nodes[i]
        if gate and gate.kind == "scale" and not drop[i] and foldable(id) then
          local x, g, r = gate.inputs[1], gate.inputs[2], node.inputs[3 - side]
          local f32 = true
          for _, t in ipairs({ x, g, r, id, node.output }) do
            f32 = f32 and T[t].dtype == "f32"
          end
          if f32 then
            drop[i] = true
            node.kind, node.inputs = "scale_add", { x, g, r }
            break
          end
        end
      end
    end
  end
  ir.drop_nodes(model, drop)
  return ir.check(model)
end
