-- luacheck: std +busted
-- portable_spec.lua: the portable backend (generator/backends/portable.lua):
-- an emitter per node kind, the emitted C (deterministic, no XNNPACK, one
-- loop function per node, the packed layout's size), and the spec key.
local helper = require("helper")
local ops = require("ops")

local function portable(arch, extra)
  local raw = helper.spec(arch, extra)
  raw.backend = "portable"
  return helper.compile_until(raw)
end

describe("the portable backend", function()
  -- what only xnnpack's own passes make: Winograd's and fuse_gate_add's
  -- (int8's conversions have only int8 forms: backends/portable_int8.lua)
  local NOT_HERE = { wino_conv = true, scale_add = true, quantize = true, dequantize = true }

  it("has an emitter for every kind but those of xnnpack's passes", function()
    local pt = require("backends.portable")
    assert.are.same({}, pt.passes)
    for _, kind in ipairs(ops.KINDS) do
      if not NOT_HERE[kind] then
        assert.is_truthy(pt.ops[kind], kind)
        assert.is_truthy(pt.ops[kind].emit or kind == "concat", kind)
      end
    end
  end)

  it("emits the same C twice, with no XNNPACK in it and a function per node", function()
    local m = portable("resnest14d", { num_classes = 10, input_size = { 3, 64, 64 },
                                       winograd = "always" })
    local again = portable("resnest14d", { num_classes = 10, input_size = { 3, 64, 64 },
                                           winograd = "always" })
    assert.are.equal(m.c_source, again.c_source)
    assert.is_nil(m.c_source:find("xnn", 1, true))
    for _, node in ipairs(m.nodes) do assert.are_not.equal("wino_conv", node.kind) end
    local fns = 0
    for _ in m.c_source:gmatch("\nstatic void op_%d+%(void%) {") do fns = fns + 1 end
    assert.are.equal(#m.nodes, fns)
    assert.is_truthy(m.c_source:find("rsoftmax", 1, true))
  end)

  it("packs conv, BN and linear weights at 4-float offsets, counted in PACKED_FLOATS", function()
    local m = portable("resnet18", { num_classes = 10, input_size = { 3, 32, 32 } })
    local total = tonumber(m.c_source:match("#define PACKED_FLOATS (%d+)"))
    local want = 0
    local function take(n) want = want + (n + 3) // 4 * 4 end
    for _, node in ipairs(m.nodes) do
      if node.kind == "conv" then
        take(node.k * node.k * node.cin // node.groups * node.cout)
        if node.bias or node.bn then take(node.cout) end
      elseif node.kind == "linear" then
        take(node.cin * node.cout)
        take(node.cout)
      end
    end
    assert.are.equal(want, total)
    -- conv1 (7x7 s2, 3->64, bn1 folded) reads its 9408 floats at 0, bias after them
    assert.is_truthy(m.c_source:find('timmc_pt_conv(st, packed + 0, packed + 9408, "conv1.weight"',
                                     1, true))
  end)

  it("runs a depthwise conv a row at a time, one loop over its channels per pixel", function()
    local m = portable("mobilenetv3_small_050", { features_only = true, input_size = { 3, 64, 64 } })
    -- blocks.0.0.conv_dw: 3x3 s2 over 16 channels, a row of output pixels per tap
    assert.is_truthy(m.c_source:find(
      "for (int ow = lo; ow < hi; ow++) mac(16, xr + (ow * 2 - 1 + kw * 1) * 16, wk, yr + ow * 16);",
      1, true))
  end)

  it("runs int8 (per-channel weights in int32 words, TFLite Micro's requantization)", function()
    local m = portable("mobilenetv3_small_050", { features_only = true, input_size = { 3, 64, 64 },
                                                  precision = "int8" })
    assert.is_nil(m.c_source:find("xnn", 1, true))
    local words = tonumber(m.c_source:match("#define PACKED_WORDS (%d+)"))
    assert.is_true(words > 10000)
    -- a depthwise conv's int32 sums, a tap's channels at a time, requantized per channel
    assert.is_truthy(m.c_source:find("timmc_q8_mac(16, xr + (ow * 2 - 1 + kw * 1) * 16, zx, wk, " ..
                                     "qacc + ow * 16);", 1, true))
    assert.is_truthy(m.c_source:find("timmc_q8_requant(a[co], mult[co], shift[co]) + zy", 1, true))
    assert.is_truthy(m.c_source:find("static const timmc_quant_info quant_info", 1, true))
  end)

  it("is a value of the spec's backend key; others are named", function()
    local ok, err = pcall(require("spec").check, helper.spec("resnet18", { backend = "cuda" }),
                          "test.json")
    assert.is_false(ok)
    assert.are.equal('test.json: key \'backend\' is "cuda", expected "xnnpack" or "portable"',
                     err.msg)
  end)
end)
