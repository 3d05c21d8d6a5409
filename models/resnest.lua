-- resnest.lua: timm's ResNeSt family (timm/models/resnest.py), rebuilt as a
-- timmc graph. timm builds these as its ResNet class with ResNestBottleneck
-- blocks, so module paths and state_dict keys are ResNet's: a deep stem
-- conv1.0 ... conv1.6, bn1, act1, maxpool; layer1..layer4 whose blocks hold
-- conv1/bn1, a split-attention conv2.{conv,bn0,fc1,bn1,fc2}, avd_last,
-- conv3/bn3 and an average-pool downsample.{0,1,2}; then global_pool and fc.
local layers = require("layers")
local resnet = require("resnet")

local resnest = {}

-- timm's SplitAttn (split attention): a grouped conv making radix splits of
-- cout channels each, attention over the splits from their pooled sum, and
-- the attention-weighted sum of the splits.
local function split_attn(b, x, p, cout, radix, cardinality)
  local cin = b:channels(x)
  local attn_chs = layers.make_divisible(cin * radix * 0.25, 8, 32)
  local y = b:conv(x, { name = p .. ".conv", cout = cout * radix, k = 3,
                        groups = cardinality * radix, bn = p .. ".bn0", act = "relu",
                        out_name = p .. ".act0" })
  -- the mean of the sum of the splits is the sum of their means: pool all
  -- radix * cout channels, and fc1 sums the radix slices of its input
  local a = b:global_pool(y, p, "avg")
  a = b:linear(a, p .. ".fc1", attn_chs, { act = "relu", weight_ndim = 4, bn = p .. ".bn1",
                                           in_repeat = radix, out_name = p .. ".act1" })
  a = b:linear(a, p .. ".fc2", cout * radix, { weight_ndim = 4 })
  if radix == 1 then -- timm's RadixSoftmax is a sigmoid then
    return b:scale(y, b:act(a, "sigmoid", p .. ".rsoftmax"), p)
  end
  a = b:unary("rsoftmax", a, p .. ".rsoftmax", { radix = radix, groups = cardinality })
  return b:radix_sum(y, a, p, radix)
end

-- avd_last, nn.AvgPool2d(3, stride, padding=1) with its padding zeros counted.
local function avd_pool(b, x, name, stride)
  return b:avgpool(x, name, 3, stride, false, true, 1)
end

-- ResNestBottleneck with avd (avd_first false): a strided block moves its
-- stride from the split-attention conv to the avd_last pool after it. A
-- block timm dilates for output_stride has stride 1 there, and so no pool.
local function bottleneck(b, x, p, cfg, planes, stride, dilated)
  local width = math.floor(planes * (cfg.base_width / 64)) * cfg.cardinality
  local cout = planes * 4
  local y = b:conv(x, { name = p .. ".conv1", cout = width, k = 1, bn = p .. ".bn1", act = "relu",
                        out_name = p .. ".act1" })
  y = split_attn(b, y, p .. ".conv2", width, cfg.radix, cfg.cardinality)
  if stride > 1 and not dilated then y = avd_pool(b, y, p .. ".avd_last", stride) end
  y = b:conv(y, { name = p .. ".conv3", cout = cout, k = 1, bn = p .. ".bn3",
                  out_name = p .. ".bn3" })
  return b:add(y, resnet.shortcut(b, x, p, cfg, cout, stride), p .. ".act3", "relu")
end

-- timm's ResNet with this block: the avd pools of the stages timm dilates are
-- left out, as timm leaves them out.
function resnest.build(model)
  return resnet.build_with(model, bottleneck)
end

-- The registry: timm's names and their model_args (all deep stem, avg_down,
-- radix 2, avd).
local function variant(depths)
  return { layers = depths, stem_width = 32, stem_type = "deep", avg_down = true, base_width = 64,
           cardinality = 1, radix = 2,
           input_size = { 3, 224, 224 }, output_stride = { 8, 16, 32 } }
end

resnest.variants = {
  resnest14d = variant({ 1, 1, 1, 1 }),
  resnest26d = variant({ 2, 2, 2, 2 }),
  resnest50d = variant({ 3, 4, 6, 3 }),
}

return resnest
