-- fuse_dw_act: a depthwise convolution followed by a SiLU (efficientnet's
-- and tinynet's inverted residuals: conv_dw, its BatchNorm folded, then
-- SiLU) becomes the conv with `post = "silu"`: timmc_kernel_dwconv applies
-- it to each output as it stores it, where the SiLU was a pass of its own
-- that read the conv's output back from memory and wrote it again
-- (runtime/timmc_dw.c). Where XNNPACK runs the conv instead, the SiLU runs
-- in place over its output right after it, as before. Fused only where
-- timmc's kernel can run the conv (pick.dw_applies), the conv has no clamp
-- of its own, its output is read by nothing but the SiLU and not returned,
-- and both tensors are float32.
local ir = require("ir")
local pick = require("passes.pick_kernels")

return function(model)
  local T = model.tensors
  local foldable, producer = ir.foldable(model)
  local drop = {}
  for i, node in ipairs(model.nodes) do
    local id = node.inputs[1]
    local conv = node.kind == "act" and node.fn == "silu" and producer[id] and
                 model.nodes[producer[id]]
    if conv and pick.dw_applies(conv) and not conv.act and not conv.post and
       foldable(id) and T[id].dtype == "f32" and T[node.output].dtype == "f32" then
      conv.post, conv.output = "silu", node.output
      drop[i] = true
    end
  end
  ir.drop_nodes(model, drop)
  return ir.check(model)
end
