-- luacheck: std +busted
-- The MobileNet / EfficientNet builder family (models/efficientnet_builder.lua,
-- efficientnet.lua, mobilenetv3.lua): block strings, depth and width scaling,
-- parameter counts and stage depths as timm builds them (numbers printed by
-- timm for the same names: len(stage) per model.blocks stage, and
-- sum(p.numel() for p in model.parameters())).
local helper = require("helper")
local eb = require("efficientnet_builder")
local util = require("util")
local compile_until = helper.compile_until

local spec = helper.spec

-- timm's parameters: the state_dict less BatchNorm's buffers
local function num_params(m)
  local n = 0
  for _, p in ipairs(m.state_dict) do
    if not p.name:match("running_mean$") and not p.name:match("running_var$") and
       not p.name:match("num_batches_tracked$") then
      n = n + util.prod(p.shape)
    end
  end
  return n
end

-- blocks per stage, from the state_dict's blocks.S.B names
local function depths(m)
  local out = {}
  for _, p in ipairs(m.state_dict) do
    local s, b = p.name:match("^blocks%.(%d+)%.(%d+)%.")
    if s then
      s, b = tonumber(s) + 1, tonumber(b) + 1
      out[s] = math.max(out[s] or 0, b)
    end
  end
  return out
end

describe("the efficientnet builder", function()
  it("rounds as Python does", function()
    assert.are.equal(2, eb.pyround(2.5))
    assert.are.equal(4, eb.pyround(3.5))
    assert.are.equal(3, eb.pyround(2.51))
    assert.are.equal(4, eb.pyround(3.9999999999))
  end)

  it("decodes block strings", function()
    local a, r = eb.decode_block("ir_r3_k5_s2_e6_c40_se0.25_nre", "x")
    assert.are.equal(3, r)
    assert.are.same({ "ir", 5, 2, 6.0, 40, 0.25, "relu", false },
                    { a.block_type, a.dw_k, a.stride, a.exp_ratio, a.out_chs, a.se_ratio, a.act,
                      a.noskip })
    a = eb.decode_block("uir_r1_a3_k0_s1_e4_c160", "x")
    assert.are.same({ 3, 0, 0 }, { a.start_k, a.mid_k, a.end_k })
    a = eb.decode_block("er_r1_k3_s1_e4_c24_fc24_noskip", "x")
    assert.are.same({ 24, true }, { a.force_in_chs, a.noskip })
    a = eb.decode_block("dsa_r2_k5_s2_c512_se0.25", "x")
    assert.is_true(a.pw_act and a.noskip)
    local err = helper.error_of(eb.decode_block, "mqa_r1_k3_h4_s1_v2_d64_c160", "hybrid")
    assert.is_true(util.is_user_error(err))
    assert.is_truthy(err.msg:find("'mqa' blocks %(attention%) are not supported yet"))
  end)

  -- stage depths and parameter counts as timm prints them
  local timm = {
    { "efficientnet_b3", { 2, 3, 3, 5, 5, 6, 2 }, 12233232 },
    { "tinynet_e", { 1, 1, 1, 2, 2, 2, 1 }, 2042972 },              -- depth_trunc 'round'
    { "mobilenetv2_110d", { 1, 3, 4, 5, 4, 4, 1 }, 4516520 },       -- fix_first_last
    { "mobilenetv3_small_050", { 1, 2, 3, 2, 3, 1 }, 1593224 },
    { "fbnetv3_d", { 2, 6, 5, 5, 7, 7, 1 }, 10306272 },             -- round_limit 0.95
    { "mobilenetv4_conv_medium", { 1, 2, 8, 11, 1 }, 9715512 },
    { "lcnet_035", { 1, 2, 2, 2, 4, 2 }, 1644370 },
    { "efficientnet_el", { 2, 3, 6, 7, 6, 3 }, 10589712 },          -- edge residuals
  }
  for _, c in ipairs(timm) do
    it("builds " .. c[1] .. " with timm's depths and parameters", function()
      local m = compile_until(spec(c[1]), "build")
      assert.are.same(c[2], depths(m))
      assert.are.equal(c[3], num_params(m))
    end)
  end

  it("pads tf_ models as TensorFlow's 'SAME', asymmetric where stride 2 needs it", function()
    local m = compile_until(spec("tf_efficientnet_lite0", { input_size = { 3, 67, 61 } }),
                            "infer_shapes")
    local stem = helper.node(m, "conv_stem")
    -- pads {top, right, bottom, left}: 3x3 s2 on 67x61 -> 34x31 needs 2 rows and
    -- 2 columns, split evenly
    assert.are.same({ 1, 1, 1, 1 }, stem.pad)
    assert.are.same({ 1, 34, 31, 32 }, m.tensors[stem.output].shape)
    -- 3x3 s2 on 34x31 -> 17x16: 1 row (after), 2 columns
    assert.are.same({ 0, 1, 1, 1 }, helper.node(m, "blocks.1.0.conv_dw").pad)
    -- 5x5 s2 on 17x16 -> 9x8: 4 rows, 3 columns (the larger half after)
    assert.are.same({ 2, 2, 2, 1 }, helper.node(m, "blocks.2.0.conv_dw").pad)
  end)

  it("refuses output_stride on a MobileNetV3 classifier, as timm does", function()
    local err = helper.error_of(compile_until, spec("mobilenetv3_large_100", { output_stride = 16 }))
    assert.is_truthy(err.msg:find("takes output_stride 16 only with \"features_only\": true", 1,
                                  true), err.msg)
    assert.is_nil(helper.error_of(compile_until, spec("mobilenetv3_large_100",
                                                      { output_stride = 16, features_only = true }),
                                  "select_features"))
  end)

  it("names timm's models it does not support yet, with the nearest it does", function()
    for _, name in ipairs({ "mixnet_s", "mobilenetv4_hybrid_medium", "ghostnet_100" }) do
      local err = helper.error_of(compile_until, spec(name))
      assert.is_truthy(err.msg:find("architecture '" .. name .. "' is a timm model timmc does " ..
                                    "not support yet %(nearest supported: "), err.msg)
    end
  end)

  it("takes the stem's bn1 as the first feature when the first stage is strided", function()
    local m = compile_until(spec("mobilenetv4_conv_small", { features_only = true }), "build")
    local mods = {}
    for i, f in ipairs(m.features) do mods[i] = f.module end
    assert.are.same({ "bn1", "blocks.0", "blocks.1", "blocks.2", "blocks.4" }, mods)
  end)
end)
