-- densenet.lua: timm's DenseNet family (timm/models/densenet.py), rebuilt as a
-- timmc graph. Module paths and state_dict keys are timm's: everything but the
-- head lives under features (conv0/norm0/pool0 stem, denseblockN.denselayerM,
-- transitionN, norm5), then global_pool and classifier. Every norm is
-- BatchNormAct2d (BatchNorm then ReLU).
local ir = require("ir")

local densenet = {}

-- One dense layer: it reads every feature map of its block so far, joined
-- along channels (a view of the block's final concatenation once
-- place_concats has run), and adds growth_rate new channels.
local function dense_layer(b, features, p, cfg)
  local x = b:concat(features, p)
  x = b:bn_act(x, p .. ".norm1", "relu")
  x = b:conv(x, { name = p .. ".conv1", cout = cfg.bn_size * cfg.growth_rate, k = 1,
                  bn = p .. ".norm2", act = "relu", out_name = p .. ".norm2" })
  return b:conv(x, { name = p .. ".conv2", cout = cfg.growth_rate, k = 3 })
end

local function dense_block(b, x, p, cfg, num_layers)
  local features = { x }
  for i = 1, num_layers do
    features[#features + 1] = dense_layer(b, features, string.format("%s.denselayer%d", p, i), cfg)
  end
  return b:concat(features, p)
end

-- BatchNormAct, 1x1 conv halving the channels, then AvgPool2d(2, 2). The pool
-- has no padding, so counting padding or not is the same thing.
local function transition(b, x, p)
  x = b:bn_act(x, p .. ".norm", "relu")
  x = b:conv(x, { name = p .. ".conv", cout = b:channels(x) // 2, k = 1 })
  return b:avgpool(x, p .. ".pool", 2, 2, false, false)
end

-- Builds the full classification model of the spec at output stride 32 (timm's
-- DenseNet has no dilation).
function densenet.build(model)
  local cfg, spec = model.arch.cfg, model.spec
  local b = ir.builder(model)
  local x = b:input()

  x = b:conv(x, { name = "features.conv0", cout = 2 * cfg.growth_rate, k = 7, stride = 2,
                  bn = "features.norm0", act = "relu", out_name = "features.norm0" })
  b:feature("features.norm0", x)
  x = b:maxpool(x, "features.pool0", 3, 2, 1, false)

  for i, num_layers in ipairs(cfg.block_config) do
    local name = "features.denseblock" .. i
    x = dense_block(b, x, name, cfg, num_layers)
    if i < #cfg.block_config then
      b:feature(name, x)
      x = transition(b, x, "features.transition" .. i)
    end
  end
  x = b:bn_act(x, "features.norm5", "relu")
  b:feature("features.norm5", x)
  b:classifier_head(x, spec.num_classes, spec.global_pool, "classifier", "global_pool")
  return model
end

-- The registry: timm's names and their model_args.
local function variant(growth_rate, block_config)
  return { growth_rate = growth_rate, block_config = block_config, bn_size = 4,
           input_size = { 3, 224, 224 } }
end

densenet.variants = {
  densenet121 = variant(32, { 6, 12, 24, 16 }),
  densenet161 = variant(48, { 6, 12, 36, 24 }),
  densenet169 = variant(32, { 6, 12, 32, 32 }),
  densenet201 = variant(32, { 6, 12, 48, 32 }),
}

return densenet
