-- resnet.lua: timm's ResNet family (timm/models/resnet.py), rebuilt as a timmc
-- graph. Module paths and state_dict keys are timm's: conv1/bn1/act1/maxpool
-- stem (conv1.0 ... conv1.6 when deep), layer1..layer4 of BasicBlock or
-- Bottleneck, downsample.{0,1,2}, se.{fc1,fc2} or se.conv, global_pool, fc.
local ir = require("ir")
local layers = require("layers")

local resnet = {}

local function eca_kernel_size(c)
  local t = math.floor(math.abs(math.log(c, 2) + 1) / 2)
  return math.max(t % 2 == 1 and t or t + 1, 3)
end

-- Channel attention applied to the block output before the residual add.
local function attention(b, x, prefix, kind)
  if kind == "se" then -- SEModule's round_limit 0
    return layers.squeeze_excite(b, x, prefix, layers.make_divisible(b:channels(x) / 16, 8, nil, 0))
  elseif kind == "eca" then
    local s = b:global_pool(x, prefix, "avg")
    s = b:eca_conv(s, prefix .. ".conv", eca_kernel_size(b:channels(x)))
    s = b:act(s, "sigmoid", prefix .. ".gate")
    return b:scale(x, s, prefix)
  end
  return x
end

-- The block's shortcut: identity, or (downsample.*) a strided 1x1 conv and
-- BatchNorm, or with avg_down an AvgPool2d(2, stride, ceil_mode) first.
function resnet.shortcut(b, x, p, cfg, cout, stride)
  if stride == 1 and b:channels(x) == cout then return x end
  if cfg.avg_down then
    local y = x
    if stride ~= 1 then
      y = b:avgpool(x, p .. ".downsample.0", 2, stride, true, false)
    end
    return b:conv(y, { name = p .. ".downsample.1", cout = cout, k = 1,
                       bn = p .. ".downsample.2", out_name = p .. ".downsample" })
  end
  return b:conv(x, { name = p .. ".downsample.0", cout = cout, k = 1, stride = stride,
                     bn = p .. ".downsample.1", out_name = p .. ".downsample" })
end

-- The block's activation: timm's act_layer (a spec may set it), ReLU by default.
local function act(b) return b.m.spec.act_layer or "relu" end

local function basic_block(b, x, p, cfg, planes, stride)
  local y = b:conv(x, { name = p .. ".conv1", cout = planes, k = 3, stride = stride,
                        bn = p .. ".bn1", act = act(b), out_name = p .. ".act1" })
  y = b:conv(y, { name = p .. ".conv2", cout = planes, k = 3, bn = p .. ".bn2",
                  out_name = p .. ".bn2" })
  y = attention(b, y, p .. ".se", cfg.attn)
  return b:add(y, resnet.shortcut(b, x, p, cfg, planes, stride), p .. ".act2", act(b))
end

local function bottleneck(b, x, p, cfg, planes, stride)
  local width = math.floor(planes * (cfg.base_width / 64)) * cfg.cardinality
  local cout = planes * 4
  local y = b:conv(x, { name = p .. ".conv1", cout = width, k = 1, bn = p .. ".bn1",
                        act = act(b), out_name = p .. ".act1" })
  y = b:conv(y, { name = p .. ".conv2", cout = width, k = 3, stride = stride,
                  groups = cfg.cardinality, bn = p .. ".bn2", act = act(b),
                  out_name = p .. ".act2" })
  y = b:conv(y, { name = p .. ".conv3", cout = cout, k = 1, bn = p .. ".bn3",
                  out_name = p .. ".bn3" })
  y = attention(b, y, p .. ".se", cfg.attn)
  return b:add(y, resnet.shortcut(b, x, p, cfg, cout, stride), p .. ".act3", act(b))
end

-- timm's ResNet around a block function, for this family and the ones built
-- on timm's ResNet class (resnest): block(b, x, module_path, cfg, planes,
-- stride, dilated) where dilated tells that timm's make_blocks turns this
-- stage's stride into dilation for the spec's output_stride. The graph is
-- built at output stride 32; apply_output_stride dilates it as timm does.
function resnet.build_with(model, block)
  local cfg, spec = model.arch.cfg, model.spec
  local b = ir.builder(model)
  local x = b:input()

  local stem_w = cfg.stem_width or 64
  local a = act(b)
  if cfg.stem_type == "deep" then
    x = b:conv(x, { name = "conv1.0", cout = stem_w, k = 3, stride = 2, bn = "conv1.1",
                    act = a, out_name = "conv1.2" })
    x = b:conv(x, { name = "conv1.3", cout = stem_w, k = 3, bn = "conv1.4", act = a,
                    out_name = "conv1.5" })
    x = b:conv(x, { name = "conv1.6", cout = stem_w * 2, k = 3, bn = "bn1", act = a,
                    out_name = "act1" })
  else
    x = b:conv(x, { name = "conv1", cout = 64, k = 7, stride = 2, bn = "bn1", act = a,
                    out_name = "act1" })
  end
  b:feature("act1", x)
  x = b:maxpool(x, "maxpool", 3, 2, 1, false)

  local net_stride = 4
  for stage, depth in ipairs(cfg.layers) do
    local planes = 64 << (stage - 1)
    local stride = stage > 1 and 2 or 1
    local dilated = ir.dilated_by_output_stride(net_stride, stride, spec.output_stride)
    if not dilated then net_stride = net_stride * stride end
    for i = 0, depth - 1 do
      x = block(b, x, string.format("layer%d.%d", stage, i), cfg, planes, i == 0 and stride or 1,
                dilated)
    end
    model.tensors[x].name = "layer" .. stage
    b:feature("layer" .. stage, x)
  end
  b:classifier_head(x, spec.num_classes, spec.global_pool)
  return model
end

function resnet.build(model)
  return resnet.build_with(model, model.arch.cfg.block == "basic" and basic_block or bottleneck)
end

-- The registry: timm's names and their model_args.
local function variant(args)
  args.cardinality = args.cardinality or 1
  args.base_width = args.base_width or 64
  args.input_size = { 3, 224, 224 }
  args.act_layer = true -- a spec may set timm's act_layer (default ReLU)
  args.output_stride = { 8, 16, 32 }
  return args
end

local deep_d = { stem_width = 32, stem_type = "deep", avg_down = true }
local function with(base, extra)
  local t = {}
  for k, v in pairs(base) do t[k] = v end
  for k, v in pairs(extra) do t[k] = v end
  return variant(t)
end

resnet.variants = {
  resnet18 = variant({ block = "basic", layers = { 2, 2, 2, 2 } }),
  resnet34 = variant({ block = "basic", layers = { 3, 4, 6, 3 } }),
  resnet50 = variant({ block = "bottleneck", layers = { 3, 4, 6, 3 } }),
  resnet101 = variant({ block = "bottleneck", layers = { 3, 4, 23, 3 } }),
  resnet152 = variant({ block = "bottleneck", layers = { 3, 8, 36, 3 } }),
  resnet50d = with(deep_d, { block = "bottleneck", layers = { 3, 4, 6, 3 } }),
  ecaresnet50d = with(deep_d, { block = "bottleneck", layers = { 3, 4, 6, 3 }, attn = "eca" }),
  ecaresnet101d = with(deep_d, { block = "bottleneck", layers = { 3, 4, 23, 3 }, attn = "eca" }),
  seresnet50 = variant({ block = "bottleneck", layers = { 3, 4, 6, 3 }, attn = "se" }),
  resnext50_32x4d = variant({ block = "bottleneck", layers = { 3, 4, 6, 3 }, cardinality = 32,
                              base_width = 4 }),
}

return resnet
