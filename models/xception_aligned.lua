-- xception_aligned.lua: timm's aligned Xception (timm/models/xception_aligned.py,
-- the XceptionAligned of xception41/65/71, not the pre-activation "p" models),
-- rebuilt as a timmc graph. Module paths and state_dict keys are timm's: a stem
-- of two ConvNormAct (stem.0, stem.1), blocks.N XceptionModules whose stack holds
-- act1..act3 ReLUs and conv1..conv3 SeparableConv2d (conv_dw + bn_dw, conv_pw +
-- bn_pw), a 1x1 ConvNormAct shortcut (shortcut.conv, shortcut.bn) where the
-- shape changes, and a ClassifierHead (head.global_pool, head.fc).
local ir = require("ir")

local xception = {}

local BN_EPS = 1e-3 -- timm builds every BatchNorm of these models with eps 0.001

-- SeparableConv2d p: depthwise 3x3 (stride on it) then pointwise 1x1, each with
-- its BatchNorm folded. act_dw/act_pw: ReLU after either (the block's own act
-- ReLUs are fused here by the caller when nothing needs the value before them).
local function separable(b, x, p, cout, stride, act_dw, act_pw, out_name)
  local c = b:channels(x)
  local y = b:conv(x, { name = p .. ".conv_dw", cout = c, k = 3, stride = stride, groups = c,
                        bn = p .. ".bn_dw", bn_eps = BN_EPS, act = act_dw,
                        out_name = p .. (act_dw and ".act_dw" or ".bn_dw") })
  return b:conv(y, { name = p .. ".conv_pw", cout = cout, k = 1, bn = p .. ".bn_pw",
                     bn_eps = BN_EPS, act = act_pw, out_name = out_name })
end

-- XceptionModule p of the registry's blk. blk.stride is the block's stride
-- before output_stride (apply_output_stride dilates later); kept_stride the
-- one timm builds it with, which decides whether it has a shortcut. With start_with_relu the stack
-- is act1 conv1 act2 conv2 act3 conv3: act1 is not in place, so the skip reads
-- the block input before it and act1 stays a node of its own (unless the input
-- is already a ReLU's output); act2 and act3 end conv1's and conv2's pointwise
-- convs. Otherwise each separable conv carries its own ReLUs (act_dw, act_pw).
-- Returns the output, whether it is a ReLU's, and for a strided block the
-- feature tensor (the ReLU before its strided conv).
local function xception_module(b, x, p, blk, kept_stride, x_relu)
  local out = blk.out_chs
  local cin = b:channels(x)
  -- the shortcut first, as timm registers it (and the block input dies sooner)
  local skip = x
  if not blk.no_skip and (out[3] ~= cin or kept_stride ~= 1) then
    skip = b:conv_norm_act(x, p .. ".shortcut", { cout = out[3], k = 1, stride = blk.stride,
                                                  bn_eps = BN_EPS })
  end
  local y, feature = x, nil
  local with_relu = blk.start_with_relu ~= false
  if with_relu and not x_relu then y = b:act(x, "relu", p .. ".stack.act1") end
  for i = 1, 3 do
    local stride = i == 3 and blk.stride or 1
    local sp = string.format("%s.stack.conv%d", p, i)
    if with_relu then
      -- conv1 and conv2 end in the next act ReLU; conv3 ends the stack
      local act = i < 3 and "relu" or nil
      local name = i < 3 and string.format("%s.stack.act%d", p, i + 1) or sp
      y = separable(b, y, sp, out[i], stride, nil, act, name)
    else
      y = separable(b, y, sp, out[i], stride, "relu", "relu", sp)
    end
    if i == 2 and blk.stride > 1 then feature = y end
  end
  if blk.no_skip then
    b.m.tensors[y].name = p
    return y, not with_relu, feature
  end
  return b:add(y, skip, p), false, feature
end

-- Builds the full classification model of the spec at output stride 32;
-- apply_output_stride turns the strides beyond the spec's output_stride into
-- dilation as timm's XceptionAligned does.
function xception.build(model)
  local cfg, spec = model.arch.cfg, model.spec
  local b = ir.builder(model)
  local x = b:input()

  x = b:conv_norm_act(x, "stem.0", { cout = 32, k = 3, stride = 2, act = "relu", bn_eps = BN_EPS })
  x = b:conv_norm_act(x, "stem.1", { cout = 64, k = 3, act = "relu", bn_eps = BN_EPS })
  local x_relu = true
  local reduction = 2
  for i, blk in ipairs(cfg.blocks) do
    local p = "blocks." .. (i - 1)
    -- timm builds a block whose stride would pass output_stride with stride 1,
    -- so one that keeps its width then has no shortcut (xception71 at 8)
    local kept = blk.stride
    if ir.dilated_by_output_stride(reduction, blk.stride, spec.output_stride) then kept = 1 end
    reduction = reduction * kept
    local feature
    x, x_relu, feature = xception_module(b, x, p, blk, kept, x_relu)
    -- feature_info: the ReLU before every strided block's strided conv
    if feature then b:feature(p .. ".stack.act3", feature) end
  end
  b:feature("blocks." .. (#cfg.blocks - 1), x)
  b:classifier_head(x, spec.num_classes, spec.global_pool, "head.fc", "head.global_pool")
  return model
end

-- The registry: timm's block_cfg of each variant (in_chs follows from the
-- previous block). out_chs is the three separable convs' widths.
local function block(c, stride) return { out_chs = { c, c, c }, stride = stride } end

local function variant(entry, middle_depth)
  local blocks = {}
  for _, e in ipairs(entry) do blocks[#blocks + 1] = block(e[1], e[2]) end
  for _ = 1, middle_depth do blocks[#blocks + 1] = block(728, 1) end
  blocks[#blocks + 1] = { out_chs = { 728, 1024, 1024 }, stride = 2 }
  blocks[#blocks + 1] = { out_chs = { 1536, 1536, 2048 }, stride = 1, no_skip = true,
                          start_with_relu = false }
  return { blocks = blocks, input_size = { 3, 299, 299 }, output_stride = { 8, 16, 32 } }
end

local entry_flow = { { 128, 2 }, { 256, 2 }, { 728, 2 } }

xception.variants = {
  xception41 = variant(entry_flow, 8),
  xception65 = variant(entry_flow, 16),
  xception71 = variant({ { 128, 2 }, { 256, 1 }, { 256, 2 }, { 728, 1 }, { 728, 2 } }, 16),
}

return xception
