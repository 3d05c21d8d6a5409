-- luacheck: std +busted
-- The quantize pass (spec "precision": "int8"; docs/int8.md).
local helper = require("helper")
local driver = require("driver")

local function int8_model(arch, extra)
  local raw = helper.spec(arch, extra)
  raw.precision = "int8"
  return helper.compile_until(raw, "quantize")
end

local function dtype(model, id) return model.tensors[id].dtype end

describe("quantize", function()
  it("leaves a float32 spec's nodes alone but keys every tensor", function()
    local m = helper.compile_until(helper.spec("resnet18", { input_size = { 3, 64, 64 } }),
                                   "quantize")
    for _, n in ipairs(m.nodes) do
      assert.is_not.equal("quantize", n.kind)
      assert.equal("f32", dtype(m, n.output))
    end
    for _, t in ipairs(m.tensors) do assert.is_string(t.qkey) end
  end)

  it("runs resnet18's convolutions, adds and pooling in int8, its stem float32", function()
    local m = int8_model("resnet18", { input_size = { 3, 64, 64 } })
    local stem = helper.node(m, "conv1", "conv")
    assert.equal("f32", dtype(m, stem.output)) -- 3 input channels
    local n_int8 = 0
    for _, n in ipairs(m.nodes) do
      if n.kind == "conv" and n ~= stem or n.kind == "add" or n.kind == "maxpool" then
        assert.equal("qs8", dtype(m, n.output), n.name)
        for _, id in ipairs(n.inputs) do assert.equal("qs8", dtype(m, id), n.name) end
        n_int8 = n_int8 + 1
      end
    end
    assert.is_true(n_int8 > 20)
    -- max pooling keeps its input's scale: the same range key
    local pool = helper.node(m, "maxpool", "maxpool")
    assert.equal(m.tensors[pool.inputs[1]].qkey, m.tensors[pool.output].qkey)
  end)

  it("keeps what the API returns float32, and forward_head's start too", function()
    local m = int8_model("resnet18", { input_size = { 3, 64, 64 }, num_classes = 10 })
    for _, o in ipairs(m.outputs) do assert.equal("f32", dtype(m, o.tensor)) end
    assert.equal("f32", dtype(m, m.backbone_out))
    assert.equal("f32", dtype(m, m.head.pool))
    -- the head reads the float32 backbone output (which forward_head writes),
    -- quantized again, not the int8 tensor forward made before it
    local readers = 0
    for _, n in ipairs(m.nodes) do
      for _, id in ipairs(n.inputs) do
        if id == m.backbone_out then
          readers = readers + 1
          assert.equal("quantize", n.kind)
        end
      end
    end
    assert.equal(1, readers)
  end)

  it("lets a feature level's int8 readers read it as int8, not through float32", function()
    local m = int8_model("resnet18", { input_size = { 3, 64, 64 }, features_only = true })
    local quantizes = 0
    for _, n in ipairs(m.nodes) do
      if n.kind == "quantize" then quantizes = quantizes + 1 end
    end
    assert.equal(1, quantizes) -- the stem's output (the stem runs float32), and no other
    for _, o in ipairs(m.outputs) do assert.equal("f32", dtype(m, o.tensor)) end
  end)

  it("puts a conversion wherever the precision changes, and nowhere else", function()
    local m = int8_model("densenet121", { input_size = { 3, 64, 64 }, features_only = true })
    for _, n in ipairs(m.nodes) do
      local y = dtype(m, n.output)
      for _, id in ipairs(n.inputs) do
        local x = dtype(m, id)
        if n.kind == "quantize" then
          assert.are.same({ "f32", "qs8" }, { x, y })
        elseif n.kind == "dequantize" then
          assert.are.same({ "qs8", "f32" }, { x, y })
        else
          assert.equal(y, x, n.name .. " (" .. n.kind .. ")")
        end
      end
      -- concatenations share one buffer: theirs stay float32
      if n.kind == "concat" then assert.equal("f32", y) end
    end
  end)

  it("names a tensor's range alike in the int8 model and its float32 reference", function()
    local raw = helper.spec("mobilenetv3_small_050", { input_size = { 3, 96, 96 },
                                                      features_only = true, precision = "int8" })
    local spec, arch = require("spec").check(raw, "test.json")
    local ref = driver.pipeline(driver.reference_spec(spec), arch, { stop_after = "quantize" })
    local m = driver.pipeline(spec, arch, { stop_after = "quantize" })
    assert.equal("net_f32", ref.spec.name)
    assert.is_true(ref.spec.reference)
    local keys = {}
    for _, t in ipairs(ref.tensors) do keys[t.qkey] = true end
    for _, t in ipairs(m.tensors) do
      if t.dtype == "qs8" then assert.is_true(keys[t.qkey], t.qkey) end
    end
  end)

  it("makes the same int8 choices and range keys on the portable backend", function()
    local function q(backend)
      return helper.compile_until(helper.spec("mobilenetv3_small_050", {
        precision = "int8", backend = backend, input_size = { 3, 64, 64 } }), "quantize")
    end
    local x, p = q("xnnpack"), q("portable")
    assert.equal(#x.nodes, #p.nodes)
    for i, n in ipairs(x.nodes) do
      local o = p.nodes[i]
      assert.equal(n.kind, o.kind, n.name)
      assert.equal(dtype(x, n.output), dtype(p, o.output), n.name)
      assert.equal(x.tensors[n.output].qkey, p.tensors[o.output].qkey, n.name)
    end
  end)

  it("tells calibration which clamped adds' inputs it may narrow, and each conv's input", function()
    local raw = helper.spec("resnet18", { precision = "int8", input_size = { 3, 64, 64 },
                                          features_only = true, out_indices = { 1, 3 } })
    -- (levels layer1 and layer3, so layer4's blocks are not built)
    local c = helper.compile_until(raw, "emit_c").c_source
    local keys = {}
    for k in c:match("qp_keys%[NUM_QP%] = {(.-)};"):gmatch('"([^"]+)"') do keys[#keys + 1] = k end
    local rows = {}
    for a, b, na, nb, lo, hi in c:gmatch("\n    {(%d+), (%d+), (%d), (%d), ([%d.]+), (%w+)},") do
      rows[keys[a + 1] .. " + " .. keys[b + 1]] = { na, nb, lo, hi }
    end
    -- a downsampling block: both inputs read by the add alone
    assert.same({ "1", "1", "0.0", "INFINITY" }, rows["layer2.0.bn2 + layer2.0.downsample"])
    -- the shortcut of an identity block is also conv1's input: not narrowed
    assert.same({ "1", "0", "0.0", "INFINITY" }, rows["layer1.1.bn2 + layer1.0.act2"])
    -- layer1.0's shortcut, the max pooling's output (act1's range), likewise
    assert.same({ "1", "0", "0.0", "INFINITY" }, rows["layer1.0.bn2 + act1"])
    assert.equal(6, select(2, c:match("qadds%[%] = {(.-)};"):gsub("\n    {", "")))
    -- each conv row names its input's range and geometry
    local row = c:match('{"layer2%.0%.conv1%.weight", [^{}]-/%*input=%*/[^}]*}')
    local input, groups, stride, dil, pt, pl, ih, iw, oh, ow = row:match(
      "/%*input=%*/(%d+), (%d+), /%*stride=%*/(%d+), /%*dilation=%*/(%d+), /%*pad=%*/(%d+), " ..
      "(%d+), /%*in=%*/(%d+), (%d+), /%*out=%*/(%d+), (%d+)")
    assert.equal("layer1", keys[tonumber(input) + 1])
    assert.same({ "1", "2", "1", "1", "1", "16", "16", "8", "8" },
                { groups, stride, dil, pt, pl, ih, iw, oh, ow })
  end)

  it("refuses int8 on a backend with no int8 operators", function()
    local m = helper.compile_until(helper.spec("resnet18", {}), "quantize")
    m.spec.precision = "int8"
    m.backend = { name = "stub", ops = { conv = { emit = function() return "" end } } }
    assert.has_error(function() require("passes.quantize").run(m) end,
                     "test.json: key 'precision': the stub backend has no int8 operators " ..
                     "(use \"f32\")")
  end)
end)
