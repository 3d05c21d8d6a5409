-- activations.lua: the activation functions the IR knows, one entry each.
-- An activation is named by a node's `act` attribute (fused into the op that
-- produces the tensor) or by an `act` node's `fn`. Each entry says:
--   clamp  {min, max} when the function is a clamp (relu, relu6): then any op
--          may fuse it into its output range; nil otherwise
--   c      the function of one float `x` as a C expression (math.h allowed):
--          what a backend runs where it has no operator of its own for it
--   timm   the timm/torch module it stands for (docs and error messages)
--   aliases  other names timm's get_act_layer takes for it (a spec's act_layer)
-- Adding one is one entry here; a model file then names it (layers use
-- Builder:act, or the `act` option of conv, linear, add and bn_act).
return {
  relu = { clamp = { 0, math.huge }, c = "x > 0.0f ? x : 0.0f", timm = "nn.ReLU" },
  relu6 = { clamp = { 0, 6 }, c = "fminf(fmaxf(x, 0.0f), 6.0f)", timm = "nn.ReLU6" },
  sigmoid = { c = "1.0f / (1.0f + expf(-x))", timm = "nn.Sigmoid" },
  silu = { c = "x / (1.0f + expf(-x))", timm = "nn.SiLU", aliases = { "swish" } },
  hard_swish = { c = "x * fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f",
                 timm = "nn.Hardswish", aliases = { "hardswish" } },
  gelu = { c = "0.5f * x * (1.0f + erff(x * 0.70710678118654752f))", timm = "nn.GELU" },
}
