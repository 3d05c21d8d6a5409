-- mobilenetv3.lua: timm's MobileNetV3 class (timm/models/mobilenetv3.py) and
-- the variants built with it: MobileNetV3 large/small (and minimal, and the
-- tf_ ports), LCNet, FBNetV3 and the MobileNetV4 conv models. conv_stem bn1,
-- blocks (efficientnet_builder.lua), then the 'efficient head': global_pool
-- first, conv_head [norm_head] act on the pooled vector, flatten, classifier.
-- forward_features ends at the blocks.
local ir = require("ir")
local eb = require("efficientnet_builder")

local mobilenetv3 = {}

-- global_pool, conv_head (bias unless head_bias is false; norm_head folded
-- when head_norm), its activation, classifier; without pooling conv_head runs
-- on the feature map.
local function head(b, model, x, cfg, s, spec)
  model.backbone_out = x
  model.head = {}
  local pooled = x
  if spec.global_pool ~= "" then pooled = b:pool_head(x, spec.global_pool, "global_pool") end
  local y = b:conv(pooled, { name = "conv_head", cout = cfg.num_features, k = 1,
                             bias = not cfg.head_norm and cfg.head_bias ~= false,
                             bn = cfg.head_norm and "norm_head" or nil, bn_eps = s.bn_eps,
                             act = s.act, out_name = cfg.head_norm and "norm_head" or "act2" })
  model.head.pool = y
  model.head.pool_name = spec.global_pool ~= "" and "flatten" or model.tensors[y].name
  if spec.num_classes > 0 then
    if spec.global_pool == "" then
      b:linear_params("classifier", cfg.num_features, spec.num_classes, 2)
    else
      model.head.logits = b:linear(y, "classifier", spec.num_classes)
      model.head.fc_name = "classifier"
    end
  end
end

function mobilenetv3.build(model)
  local cfg, spec = model.arch.cfg, model.spec
  local b = ir.builder(model)
  local mult = cfg.channel_multiplier
  local s = {
    act = cfg.act,
    bn_eps = cfg.tf and 1e-3 or ir.BN_EPS,
    same_pad = cfg.tf,
    round_chs = function(c) return eb.round_channels(c, mult, 8, cfg.round_limit) end,
    se = cfg.se,
  }
  local blocks = eb.new(b, s)
  local stages = eb.decode_arch(cfg.arch_def, { arch = model.arch.name,
                                                depth_multiplier = cfg.depth_multiplier })
  local stem = cfg.fix_stem and cfg.stem_size or s.round_chs(cfg.stem_size)
  local x = b:input()
  x = blocks:conv(x, "conv_stem", "bn1", stem, 3, { stride = 2, act = s.act })
  x = blocks:stages(x, stem, stages)

  head(b, model, x, cfg, s, spec)
  return model
end

-- timm's MobileNetV3 takes output_stride only as a feature extractor
-- (MobileNetV3Features); the classifier takes none (32 is the same model).
local function variant(args)
  args.output_stride = { 8, 16, 32 }
  args.output_stride_features_only = true
  return args
end

local LARGE = {
  { "ds_r1_k3_s1_e1_c16_nre" }, { "ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre" },
  { "ir_r3_k5_s2_e3_c40_se0.25_nre" },
  { "ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80" },
  { "ir_r2_k3_s1_e6_c112_se0.25" }, { "ir_r3_k5_s2_e6_c160_se0.25" }, { "cn_r1_k1_s1_c960" },
}
local LARGE_MINIMAL = {
  { "ds_r1_k3_s1_e1_c16" }, { "ir_r1_k3_s2_e4_c24", "ir_r1_k3_s1_e3_c24" },
  { "ir_r3_k3_s2_e3_c40" },
  { "ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80" },
  { "ir_r2_k3_s1_e6_c112" }, { "ir_r3_k3_s2_e6_c160" }, { "cn_r1_k1_s1_c960" },
}
local SMALL = {
  { "ds_r1_k3_s2_e1_c16_se0.25_nre" }, { "ir_r1_k3_s2_e4.5_c24_nre", "ir_r1_k3_s1_e3.67_c24_nre" },
  { "ir_r1_k5_s2_e4_c40_se0.25", "ir_r2_k5_s1_e6_c40_se0.25" }, { "ir_r2_k5_s1_e3_c48_se0.25" },
  { "ir_r3_k5_s2_e6_c96_se0.25" }, { "cn_r1_k1_s1_c576" },
}
local SMALL_MINIMAL = {
  { "ds_r1_k3_s2_e1_c16" }, { "ir_r1_k3_s2_e4.5_c24", "ir_r1_k3_s1_e3.67_c24" },
  { "ir_r1_k3_s2_e4_c40", "ir_r2_k3_s1_e6_c40" }, { "ir_r2_k3_s1_e3_c48" },
  { "ir_r3_k3_s2_e6_c96" }, { "cn_r1_k1_s1_c576" },
}

-- MobileNetV3's SqueezeExcite: ReLU, hard_sigmoid gate, channels rounded
-- with round_channels on the expanded channels.
local MNV3_SE = { gate = "hard_sigmoid", act = "relu", from_exp = true,
                  round = function(c) return eb.round_channels(c, 1.0) end }

local function gen_mnv3(cm, small, minimal, tf)
  local arch = small and (minimal and SMALL_MINIMAL or SMALL) or (minimal and LARGE_MINIMAL or LARGE)
  return variant({ arch_def = arch, channel_multiplier = cm, stem_size = 16,
                   fix_stem = cm < 0.75, num_features = small and 1024 or 1280,
                   act = minimal and "relu" or "hard_swish", se = MNV3_SE, tf = tf })
end

local LCNET = {
  { "dsa_r1_k3_s1_c32" }, { "dsa_r2_k3_s2_c64" }, { "dsa_r2_k3_s2_c128" },
  { "dsa_r1_k3_s2_c256", "dsa_r1_k5_s1_c256" }, { "dsa_r4_k5_s1_c256" },
  { "dsa_r2_k5_s2_c512_se0.25" },
}

local function gen_lcnet(cm)
  return variant({ arch_def = LCNET, channel_multiplier = cm, stem_size = 16, num_features = 1280,
                   act = "hard_swish",
                   se = { gate = "hard_sigmoid", act = "relu", from_exp = true,
                          round = eb.pyround } })
end

local FBNETV3 = {
  b = { 16, {
    { "ds_r2_k3_s1_e1_c16" }, { "ir_r1_k5_s2_e4_c24", "ir_r3_k5_s1_e2_c24" },
    { "ir_r1_k5_s2_e5_c40_se0.25", "ir_r4_k5_s1_e3_c40_se0.25" },
    { "ir_r1_k5_s2_e5_c72", "ir_r4_k3_s1_e3_c72" },
    { "ir_r1_k3_s1_e5_c120_se0.25", "ir_r5_k5_s1_e3_c120_se0.25" },
    { "ir_r1_k3_s2_e6_c184_se0.25", "ir_r5_k5_s1_e4_c184_se0.25", "ir_r1_k5_s1_e6_c224_se0.25" },
    { "cn_r1_k1_s1_c1344" } } },
  d = { 24, {
    { "ds_r2_k3_s1_e1_c16" }, { "ir_r1_k3_s2_e5_c24", "ir_r5_k3_s1_e2_c24" },
    { "ir_r1_k5_s2_e4_c40_se0.25", "ir_r4_k3_s1_e3_c40_se0.25" },
    { "ir_r1_k3_s2_e5_c72", "ir_r4_k3_s1_e3_c72" },
    { "ir_r1_k3_s1_e5_c128_se0.25", "ir_r6_k5_s1_e3_c128_se0.25" },
    { "ir_r1_k3_s2_e6_c208_se0.25", "ir_r5_k5_s1_e5_c208_se0.25", "ir_r1_k5_s1_e6_c240_se0.25" },
    { "cn_r1_k1_s1_c1440" } } },
  g = { 32, {
    { "ds_r3_k3_s1_e1_c24" }, { "ir_r1_k5_s2_e4_c40", "ir_r4_k5_s1_e2_c40" },
    { "ir_r1_k5_s2_e4_c56_se0.25", "ir_r4_k5_s1_e3_c56_se0.25" },
    { "ir_r1_k5_s2_e5_c104", "ir_r4_k3_s1_e3_c104" },
    { "ir_r1_k3_s1_e5_c160_se0.25", "ir_r8_k5_s1_e3_c160_se0.25" },
    { "ir_r1_k3_s2_e6_c264_se0.25", "ir_r6_k5_s1_e5_c264_se0.25", "ir_r2_k5_s1_e6_c288_se0.25" },
    { "cn_r1_k1_s1_c1728" } } },
}

local function gen_fbnetv3(v)
  local round = function(c) return eb.round_channels(c, 1.0, 8, 0.95) end
  return variant({ arch_def = FBNETV3[v][2], channel_multiplier = 1.0, round_limit = 0.95,
                   stem_size = FBNETV3[v][1], num_features = 1984, head_bias = false,
                   act = "hard_swish",
                   se = { gate = "hard_sigmoid", from_exp = false, round = round } })
end

local MNV4_SMALL = {
  { "cn_r1_k3_s2_e1_c32", "cn_r1_k1_s1_e1_c32" }, { "cn_r1_k3_s2_e1_c96", "cn_r1_k1_s1_e1_c64" },
  { "uir_r1_a5_k5_s2_e3_c96", "uir_r4_a0_k3_s1_e2_c96", "uir_r1_a3_k0_s1_e4_c96" },
  { "uir_r1_a3_k3_s2_e6_c128", "uir_r1_a5_k5_s1_e4_c128", "uir_r1_a0_k5_s1_e4_c128",
    "uir_r1_a0_k5_s1_e3_c128", "uir_r2_a0_k3_s1_e4_c128" },
  { "cn_r1_k1_s1_c960" },
}
local MNV4_MEDIUM = {
  { "er_r1_k3_s2_e4_c48" }, { "uir_r1_a3_k5_s2_e4_c80", "uir_r1_a3_k3_s1_e2_c80" },
  { "uir_r1_a3_k5_s2_e6_c160", "uir_r2_a3_k3_s1_e4_c160", "uir_r1_a3_k5_s1_e4_c160",
    "uir_r1_a3_k3_s1_e4_c160", "uir_r1_a3_k0_s1_e4_c160", "uir_r1_a0_k0_s1_e2_c160",
    "uir_r1_a3_k0_s1_e4_c160" },
  { "uir_r1_a5_k5_s2_e6_c256", "uir_r1_a5_k5_s1_e4_c256", "uir_r2_a3_k5_s1_e4_c256",
    "uir_r1_a0_k0_s1_e4_c256", "uir_r1_a3_k0_s1_e4_c256", "uir_r1_a3_k5_s1_e2_c256",
    "uir_r1_a5_k5_s1_e4_c256", "uir_r2_a0_k0_s1_e4_c256", "uir_r1_a5_k0_s1_e2_c256" },
  { "cn_r1_k1_s1_c960" },
}
local MNV4_LARGE = {
  { "er_r1_k3_s2_e4_c48" }, { "uir_r1_a3_k5_s2_e4_c96", "uir_r1_a3_k3_s1_e4_c96" },
  { "uir_r1_a3_k5_s2_e4_c192", "uir_r3_a3_k3_s1_e4_c192", "uir_r1_a3_k5_s1_e4_c192",
    "uir_r5_a5_k3_s1_e4_c192", "uir_r1_a3_k0_s1_e4_c192" },
  { "uir_r4_a5_k5_s2_e4_c512", "uir_r1_a5_k0_s1_e4_c512", "uir_r1_a5_k3_s1_e4_c512",
    "uir_r2_a5_k0_s1_e4_c512", "uir_r1_a5_k3_s1_e4_c512", "uir_r1_a5_k5_s1_e4_c512",
    "uir_r3_a5_k0_s1_e4_c512" },
  { "cn_r1_k1_s1_c960" },
}

local function gen_mnv4(arch_def, stem, cm)
  return variant({ arch_def = arch_def, channel_multiplier = cm, stem_size = stem,
                   fix_stem = cm < 1.0, num_features = 1280, head_bias = false, head_norm = true,
                   act = "relu", se = MNV3_SE })
end

mobilenetv3.variants = {
  mobilenetv3_large_075 = gen_mnv3(0.75),
  mobilenetv3_large_100 = gen_mnv3(1.0),
  mobilenetv3_small_050 = gen_mnv3(0.5, true),
  mobilenetv3_small_075 = gen_mnv3(0.75, true),
  mobilenetv3_small_100 = gen_mnv3(1.0, true),
  tf_mobilenetv3_large_075 = gen_mnv3(0.75, false, false, true),
  tf_mobilenetv3_large_100 = gen_mnv3(1.0, false, false, true),
  tf_mobilenetv3_large_minimal_100 = gen_mnv3(1.0, false, true, true),
  tf_mobilenetv3_small_075 = gen_mnv3(0.75, true, false, true),
  tf_mobilenetv3_small_100 = gen_mnv3(1.0, true, false, true),
  tf_mobilenetv3_small_minimal_100 = gen_mnv3(1.0, true, true, true),
  lcnet_035 = gen_lcnet(0.35),
  lcnet_050 = gen_lcnet(0.5),
  lcnet_075 = gen_lcnet(0.75),
  lcnet_100 = gen_lcnet(1.0),
  lcnet_150 = gen_lcnet(1.5),
  fbnetv3_b = gen_fbnetv3("b"),
  fbnetv3_d = gen_fbnetv3("d"),
  fbnetv3_g = gen_fbnetv3("g"),
  mobilenetv4_conv_small_035 = gen_mnv4(MNV4_SMALL, 32, 0.35),
  mobilenetv4_conv_small_050 = gen_mnv4(MNV4_SMALL, 32, 0.5),
  mobilenetv4_conv_small = gen_mnv4(MNV4_SMALL, 32, 1.0),
  mobilenetv4_conv_medium = gen_mnv4(MNV4_MEDIUM, 32, 1.0),
  mobilenetv4_conv_large = gen_mnv4(MNV4_LARGE, 24, 1.0),
}

return mobilenetv3
