-- vovnet.lua: timm's VoVNet family (timm/models/vovnet.py), rebuilt as a timmc
-- graph. Module paths and state_dict keys are timm's: stem.0..2, then
-- stages.N (pool, blocks.M of OSA blocks: conv_reduction, conv_mid.K,
-- conv_concat, attn), then head.global_pool and head.fc. ConvNormAct keeps
-- its conv as X.conv and its BatchNormAct2d as X.bn; SeparableConvNormAct has
-- X.conv_dw, X.conv_pw and X.bn.
local ir = require("ir")

local vovnet = {}

-- ConvNormAct with ReLU.
local function conv_norm_act(b, x, p, cout, k, stride)
  return b:conv_norm_act(x, p, { cout = cout, k = k, stride = stride, act = "relu" })
end

-- SeparableConvNormAct: depthwise kxk, pointwise 1x1, BatchNorm folded, ReLU.
local function separable_conv_norm_act(b, x, p, cout, k, stride)
  local c = b:channels(x)
  x = b:conv(x, { name = p .. ".conv_dw", cout = c, k = k, stride = stride, groups = c })
  return b:conv(x, { name = p .. ".conv_pw", cout = cout, k = 1, bn = p .. ".bn", act = "relu",
                     out_name = p })
end

-- EffectiveSEModule: mean over pixels, 1x1 conv with bias, hard sigmoid, gate.
local function effective_se(b, x, p)
  local s = b:global_pool(x, p, "avg")
  s = b:linear(s, p .. ".fc", b:channels(x), { weight_ndim = 4, gate = "hard_sigmoid" })
  return b:scale(x, s, p)
end

-- One-shot aggregation: the block input and every conv_mid output joined,
-- then a 1x1 conv_concat, attention on a stage's last block, residual.
local function osa_block(b, x, p, cfg, mid, cout, o)
  local shortcut = x
  local outputs = { x }
  if cfg.depthwise and b:channels(x) ~= mid then
    x = conv_norm_act(b, x, p .. ".conv_reduction", mid, 1, 1)
  end
  for i = 0, cfg.layer_per_block - 1 do
    local name = string.format("%s.conv_mid.%d", p, i)
    if cfg.depthwise then
      x = separable_conv_norm_act(b, x, name, mid, 3, 1)
    else
      x = conv_norm_act(b, x, name, mid, 3, 1)
    end
    outputs[#outputs + 1] = x
  end
  x = b:concat(outputs, p .. ".conv_mid")
  x = conv_norm_act(b, x, p .. ".conv_concat", cout, 1, 1)
  if o.attn == "ese" then x = effective_se(b, x, p .. ".attn") end
  if o.residual then x = b:add(x, shortcut, p) end
  return x
end

-- Builds the full classification model of the spec (timm's VovNet supports
-- output stride 32 only).
function vovnet.build(model)
  local cfg, spec = model.arch.cfg, model.spec
  local b = ir.builder(model)
  local x = b:input()

  local stem_conv = cfg.depthwise and separable_conv_norm_act or conv_norm_act
  x = conv_norm_act(b, x, "stem.0", cfg.stem_chs[1], 3, 2)
  x = stem_conv(b, x, "stem.1", cfg.stem_chs[2], 3, 1)
  b:feature("stem.1", x)
  x = stem_conv(b, x, "stem.2", cfg.stem_chs[3], 3, 2)

  for i = 0, 3 do
    local p = "stages." .. i
    -- the stem's stride 4 stands in for the first stage's pool
    if i > 0 then x = b:maxpool(x, p .. ".pool", 3, 2, 0, true) end
    local blocks = cfg.block_per_stage[i + 1]
    for j = 0, blocks - 1 do
      x = osa_block(b, x, string.format("%s.blocks.%d", p, j), cfg, cfg.stage_conv_chs[i + 1],
                    cfg.stage_out_chs[i + 1],
                    { residual = cfg.residual and j > 0, attn = j == blocks - 1 and cfg.attn })
    end
    model.tensors[x].name = p
    b:feature(p, x)
  end
  b:classifier_head(x, spec.num_classes, spec.global_pool, "head.fc", "head.global_pool")
  return model
end

-- The registry: timm's names and their model_cfgs.
local function variant(args)
  args.stage_conv_chs = { 128, 160, 192, 224 }
  args.stage_out_chs = { 256, 512, 768, 1024 }
  args.input_size = { 3, 224, 224 }
  return args
end

vovnet.variants = {
  vovnet39a = variant({ stem_chs = { 64, 64, 128 }, layer_per_block = 5,
                        block_per_stage = { 1, 1, 2, 2 }, residual = false, depthwise = false }),
  ese_vovnet19b_dw = variant({ stem_chs = { 64, 64, 64 }, layer_per_block = 3,
                               block_per_stage = { 1, 1, 1, 1 }, residual = true,
                               depthwise = true, attn = "ese" }),
  ese_vovnet39b = variant({ stem_chs = { 64, 64, 128 }, layer_per_block = 5,
                            block_per_stage = { 1, 1, 2, 2 }, residual = true, depthwise = false,
                            attn = "ese" }),
}

return vovnet
