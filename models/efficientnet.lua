-- efficientnet.lua: timm's EfficientNet class (timm/models/efficientnet.py) and
-- the variants built with it: EfficientNet B0-B4 and Lite0-4 (and their tf_
-- ports with TensorFlow's 'SAME' padding and BatchNorm eps 1e-3),
-- EfficientNet-EdgeTPU S/M/L, MobileNetV2, MnasNet, SemNASNet, SPNASNet and
-- TinyNet. conv_stem bn1, blocks (efficientnet_builder.lua), conv_head bn2,
-- global_pool, classifier.
local ir = require("ir")
local eb = require("efficientnet_builder")

local efficientnet = {}

-- The model's common block settings (see efficientnet_builder.lua).
local function settings(cfg, mult, divisor)
  return {
    act = cfg.act,
    bn_eps = cfg.tf and 1e-3 or ir.BN_EPS,
    same_pad = cfg.tf,
    round_chs = function(c) return eb.round_channels(c, mult, divisor) end,
    -- EfficientNet's SqueezeExcite: the block's activation, sigmoid, Python's
    -- round of the ratio taken on the block's input channels
    se = { gate = "sigmoid", round = eb.pyround, from_exp = false },
  }
end

function efficientnet.build(model)
  local cfg, spec = model.arch.cfg, model.spec
  local b = ir.builder(model)
  local s = settings(cfg, cfg.channel_multiplier, cfg.channel_divisor)
  local blocks = eb.new(b, s)
  local stages = eb.decode_arch(cfg.arch_def, { arch = model.arch.name,
                                                depth_multiplier = cfg.depth_multiplier,
                                                depth_trunc = cfg.depth_trunc,
                                                fix_first_last = cfg.fix_first_last })
  local stem = cfg.fix_stem and cfg.stem_size or s.round_chs(cfg.stem_size)
  local x = b:input()
  x = blocks:conv(x, "conv_stem", "bn1", stem, 3, { stride = 2, act = s.act })
  x = blocks:stages(x, stem, stages)
  if cfg.num_features > 0 then
    x = blocks:conv(x, "conv_head", "bn2", cfg.num_features, 1, { act = s.act })
  end
  b:classifier_head(x, spec.num_classes, spec.global_pool, "classifier")
  return model
end

local function variant(gen, args)
  args.gen = gen
  args.output_stride = { 8, 16, 32 }
  return args
end

-- The generators' arch definitions and defaults (timm's _gen_* functions).
local EFFICIENTNET = {
  { "ds_r1_k3_s1_e1_c16_se0.25" }, { "ir_r2_k3_s2_e6_c24_se0.25" },
  { "ir_r2_k5_s2_e6_c40_se0.25" }, { "ir_r3_k3_s2_e6_c80_se0.25" },
  { "ir_r3_k5_s1_e6_c112_se0.25" }, { "ir_r4_k5_s2_e6_c192_se0.25" },
  { "ir_r1_k3_s1_e6_c320_se0.25" },
}
local LITE = {
  { "ds_r1_k3_s1_e1_c16" }, { "ir_r2_k3_s2_e6_c24" }, { "ir_r2_k5_s2_e6_c40" },
  { "ir_r3_k3_s2_e6_c80" }, { "ir_r3_k5_s1_e6_c112" }, { "ir_r4_k5_s2_e6_c192" },
  { "ir_r1_k3_s1_e6_c320" },
}
local EDGE = {
  { "er_r1_k3_s1_e4_c24_fc24_noskip" }, { "er_r2_k3_s2_e8_c32" }, { "er_r4_k3_s2_e8_c48" },
  { "ir_r5_k5_s2_e8_c96" }, { "ir_r4_k5_s1_e8_c144" }, { "ir_r2_k5_s2_e8_c192" },
}
local MOBILENETV2 = {
  { "ds_r1_k3_s1_c16" }, { "ir_r2_k3_s2_e6_c24" }, { "ir_r3_k3_s2_e6_c32" },
  { "ir_r4_k3_s2_e6_c64" }, { "ir_r3_k3_s1_e6_c96" }, { "ir_r3_k3_s2_e6_c160" },
  { "ir_r1_k3_s1_e6_c320" },
}
local MNASNET_A1 = {
  { "ds_r1_k3_s1_e1_c16_noskip" }, { "ir_r2_k3_s2_e6_c24" }, { "ir_r3_k5_s2_e3_c40_se0.25" },
  { "ir_r4_k3_s2_e6_c80" }, { "ir_r2_k3_s1_e6_c112_se0.25" }, { "ir_r3_k5_s2_e6_c160_se0.25" },
  { "ir_r1_k3_s1_e6_c320" },
}
local MNASNET_B1 = {
  { "ds_r1_k3_s1_c16_noskip" }, { "ir_r3_k3_s2_e3_c24" }, { "ir_r3_k5_s2_e3_c40" },
  { "ir_r3_k5_s2_e6_c80" }, { "ir_r2_k3_s1_e6_c96" }, { "ir_r4_k5_s2_e6_c192" },
  { "ir_r1_k3_s1_e6_c320_noskip" },
}
local MNASNET_SMALL = {
  { "ds_r1_k3_s1_c8" }, { "ir_r1_k3_s2_e3_c16" }, { "ir_r2_k3_s2_e6_c16" },
  { "ir_r4_k5_s2_e6_c32_se0.25" }, { "ir_r3_k3_s1_e6_c32_se0.25" },
  { "ir_r3_k5_s2_e6_c88_se0.25" }, { "ir_r1_k3_s1_e6_c144" },
}
local SPNASNET = {
  { "ds_r1_k3_s1_c16_noskip" }, { "ir_r3_k3_s2_e3_c24" },
  { "ir_r1_k5_s2_e6_c40", "ir_r3_k3_s1_e3_c40" }, { "ir_r1_k5_s2_e6_c80", "ir_r3_k3_s1_e3_c80" },
  { "ir_r1_k5_s1_e6_c96", "ir_r3_k5_s1_e3_c96" }, { "ir_r4_k5_s2_e6_c192" },
  { "ir_r1_k3_s1_e6_c320_noskip" },
}

local function gen_efficientnet(cm, dm, tf)
  return variant("efficientnet", { arch_def = EFFICIENTNET, channel_multiplier = cm,
                                   depth_multiplier = dm, stem_size = 32,
                                   num_features = eb.round_channels(1280, cm, 8), act = "silu",
                                   tf = tf })
end

local function gen_lite(cm, dm, tf)
  return variant("efficientnet_lite", { arch_def = LITE, channel_multiplier = cm,
                                        depth_multiplier = dm, fix_first_last = true,
                                        stem_size = 32, fix_stem = true, num_features = 1280,
                                        act = "relu6", tf = tf })
end

local function gen_edge(cm, dm)
  return variant("efficientnet_edge", { arch_def = EDGE, channel_multiplier = cm,
                                        depth_multiplier = dm, stem_size = 32,
                                        num_features = eb.round_channels(1280, cm), act = "relu" })
end

local function gen_mobilenetv2(cm, dm, fix_stem_head)
  return variant("mobilenet_v2", {
    arch_def = MOBILENETV2, channel_multiplier = cm, depth_multiplier = dm or 1.0,
    fix_first_last = fix_stem_head, stem_size = 32, fix_stem = fix_stem_head,
    num_features = fix_stem_head and 1280 or math.max(1280, eb.round_channels(1280, cm)),
    act = "relu6" })
end

local function gen_mnasnet(arch_def, cm, stem)
  return variant("mnasnet", { arch_def = arch_def, channel_multiplier = cm, stem_size = stem or 32,
                              num_features = 1280, act = "relu" })
end

local function gen_tinynet(width, dm)
  return variant("tinynet", { arch_def = EFFICIENTNET, channel_multiplier = width,
                              depth_multiplier = dm, depth_trunc = "round", stem_size = 32,
                              fix_stem = true,
                              num_features = math.max(1280, eb.round_channels(1280, width, 8)),
                              act = "silu" })
end

efficientnet.variants = {
  efficientnet_b0 = gen_efficientnet(1.0, 1.0),
  efficientnet_b1 = gen_efficientnet(1.0, 1.1),
  efficientnet_b2 = gen_efficientnet(1.1, 1.2),
  efficientnet_b3 = gen_efficientnet(1.2, 1.4),
  efficientnet_b4 = gen_efficientnet(1.4, 1.8),
  tf_efficientnet_b0 = gen_efficientnet(1.0, 1.0, true),
  tf_efficientnet_b1 = gen_efficientnet(1.0, 1.1, true),
  tf_efficientnet_b2 = gen_efficientnet(1.1, 1.2, true),
  tf_efficientnet_b3 = gen_efficientnet(1.2, 1.4, true),
  efficientnet_lite0 = gen_lite(1.0, 1.0),
  efficientnet_lite1 = gen_lite(1.0, 1.1),
  efficientnet_lite2 = gen_lite(1.1, 1.2),
  efficientnet_lite3 = gen_lite(1.2, 1.4),
  efficientnet_lite4 = gen_lite(1.4, 1.8),
  tf_efficientnet_lite0 = gen_lite(1.0, 1.0, true),
  tf_efficientnet_lite1 = gen_lite(1.0, 1.1, true),
  tf_efficientnet_lite2 = gen_lite(1.1, 1.2, true),
  tf_efficientnet_lite3 = gen_lite(1.2, 1.4, true),
  tf_efficientnet_lite4 = gen_lite(1.4, 1.8, true),
  efficientnet_es = gen_edge(1.0, 1.0),
  efficientnet_em = gen_edge(1.0, 1.1),
  efficientnet_el = gen_edge(1.2, 1.4),
  mobilenetv2_035 = gen_mobilenetv2(0.35),
  mobilenetv2_050 = gen_mobilenetv2(0.5),
  mobilenetv2_075 = gen_mobilenetv2(0.75),
  mobilenetv2_100 = gen_mobilenetv2(1.0),
  mobilenetv2_140 = gen_mobilenetv2(1.4),
  mobilenetv2_110d = gen_mobilenetv2(1.1, 1.2, true),
  mobilenetv2_120d = gen_mobilenetv2(1.2, 1.4, true),
  mnasnet_050 = gen_mnasnet(MNASNET_B1, 0.5),
  mnasnet_075 = gen_mnasnet(MNASNET_B1, 0.75),
  mnasnet_100 = gen_mnasnet(MNASNET_B1, 1.0),
  mnasnet_140 = gen_mnasnet(MNASNET_B1, 1.4),
  semnasnet_050 = gen_mnasnet(MNASNET_A1, 0.5),
  semnasnet_075 = gen_mnasnet(MNASNET_A1, 0.75),
  semnasnet_100 = gen_mnasnet(MNASNET_A1, 1.0),
  semnasnet_140 = gen_mnasnet(MNASNET_A1, 1.4),
  mnasnet_small = gen_mnasnet(MNASNET_SMALL, 1.0, 8),
  spnasnet_100 = gen_mnasnet(SPNASNET, 1.0),
  tinynet_a = gen_tinynet(1.0, 1.2),
  tinynet_b = gen_tinynet(0.75, 1.1),
  tinynet_c = gen_tinynet(0.54, 0.85),
  tinynet_d = gen_tinynet(0.54, 0.695),
  tinynet_e = gen_tinynet(0.51, 0.6),
}

return efficientnet
