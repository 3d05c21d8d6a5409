-- luacheck: std +busted
-- ops_spec: the op table (generator/ops.lua), the IR's checks (ir.check,
-- ops.validate), activations and the backend seam.
local helper = require("helper")
local ir = require("ir")
local ops = require("ops")
local util = require("util")
local driver = require("driver")
local compile_until = helper.compile_until

local spec = helper.spec

-- Runs fn and returns the IR error it raised (fails if it raised another or none).
local function ir_error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an IR error")
  assert.is_true(util.is_ir_error(err), tostring(err))
  return err.msg
end

-- A model whose family build function is replaced by build(b, x), on top of
-- resnet18's spec; returns the pipeline's result or raises.
local function with_build(build, stop)
  local s, arch = require("spec").check(spec("resnet18"), "test.json")
  arch = { name = arch.name, family = arch.family, cfg = arch.cfg, build = function(model)
    local b = ir.builder(model)
    local x = build(b, b:input())
    b:feature("x", x)
    b:classifier_head(x, 0, "avg")
    return model
  end }
  return driver.pipeline(s, arch, { stop_after = stop, check = true })
end

describe("the op table", function()
  it("has a complete entry for every kind", function()
    assert.is_true(#ops.KINDS >= 16)
    for _, kind in ipairs(ops.KINDS) do
      local e = ops[kind]
      assert.are.equal(kind, e.kind)
      assert.are.equal("function", type(e.shape), kind)
      assert.are.equal("function", type(e.summary), kind)
      if e.spatial then assert.are.equal("function", type(e.on_output_stride), kind) end
      if e.fallback then assert.are.equal("function", type(e.revert), kind) end
    end
  end)

  it("has an XNNPACK emitter for every kind", function()
    local xnn = require("backends.xnnpack")
    for _, kind in ipairs(ops.KINDS) do
      assert.is_truthy(xnn.ops[kind], kind)
      assert.is_truthy(xnn.ops[kind].emit or kind == "concat", kind)
    end
  end)

  it("fails a node of an unknown kind, naming the node", function()
    local msg = ir_error_of(with_build, function(b, x)
      return b:unary("swish_conv", x, "layer1.0.mystery")
    end)
    assert.is_truthy(msg:find("^layer1%.0%.mystery: unknown node kind swish_conv %(known: "), msg)
  end)

  it("fails an unknown activation, naming the node", function()
    local msg = ir_error_of(with_build, function(b, x)
      return b:conv(x, { name = "conv1", cout = 8, k = 3, act = "silux" })
    end)
    assert.is_truthy(msg:find("^conv1: attribute 'fn' must be an activation %(one of .*relu.*%), " ..
                              "got 'silux'$"), msg)
    msg = ir_error_of(with_build, function(b, x) return b:act(x, "swishy", "act9") end)
    assert.is_truthy(msg:find("^act9: attribute 'fn' must be an activation", 1), msg)
  end)

  it("fails a missing, extra or mistyped attribute, naming the node", function()
    local msg = ir_error_of(with_build, function(b, x)
      return b:unary("global_pool", x, "head.pool", {})
    end)
    assert.are.equal("head.pool: global_pool node lacks attribute 'mode'", msg)
    msg = ir_error_of(with_build, function(b, x)
      return b:unary("global_pool", x, "head.pool", { mode = "avg", flatten = true })
    end)
    assert.are.equal("head.pool: global_pool node has an attribute 'flatten' that global_pool " ..
                     "does not take", msg)
    msg = ir_error_of(with_build, function(b, x)
      return b:unary("global_pool", x, "head.pool", { mode = "mean" })
    end)
    assert.are.equal("head.pool: attribute 'mode' must be one of avg, max, got 'mean'", msg)
    msg = ir_error_of(with_build, function(b, x)
      return b:maxpool(x, "maxpool", 3.5, 2, 1)
    end)
    assert.are.equal("maxpool: attribute 'k' must be an integer", msg)
  end)

  it("refuses a non-clamp activation fused into an op", function()
    -- relu and relu6 fuse into any op's output range; silu-like ones cannot,
    -- so the Builder gives them an act node, and a hand-made fused one fails
    local msg = ir_error_of(with_build, function(b, x)
      local y = ir.new_tensor(b.m, "c", 8)
      ir.add_node(b.m, { kind = "conv", name = "c", inputs = { x }, output = y, weight = "c.w",
                         bn_eps = 1e-5, cin = 3, cout = 8, k = 1, stride = 1, dilation = 1,
                         groups = 1, act = "sigmoid" })
      return y
    end)
    assert.is_truthy(msg:find("^c: attribute 'act' must be an activation that is a clamp"), msg)
  end)

  it("checks the IR after every pass of the driver's pipeline", function()
    -- a pass that breaks the IR is caught right after it: here infer_shapes'
    -- output is damaged by hand and ir.check names the tensor
    local m = compile_until(spec("resnet18"), "infer_shapes")
    m.tensors[5].shape = { 1, 0, 56, 64 }
    local msg = ir_error_of(ir.check, m)
    assert.is_truthy(msg:find("has shape %[1, 0, 56, 64%], expected 4 positive sizes"), msg)
    m.tensors[5].shape = { 1, 56, 56, 64 }
    m.tensors[5].dtype = "f24"
    msg = ir_error_of(ir.check, m)
    assert.is_truthy(msg:find("unknown dtype f24"), msg)
  end)

  it("prints an IR error as one line from the command line, exit status 1", function()
    local dir = os.tmpname()
    os.remove(dir)
    local resnet = require("resnet")
    local real = resnet.build
    resnet.build = function(model)
      local b = ir.builder(model)
      local x = b:input()
      b:conv(x, { name = "conv1", cout = 64, k = 7, act = "silux" })
      return model
    end
    local f = assert(io.open(dir .. ".json", "w"))
    f:write('{"name": "net", "architecture": "resnet18"}')
    f:close()
    local err_path = os.tmpname()
    local saved = io.stderr
    io.stderr = assert(io.open(err_path, "w")) -- luacheck: ignore 122
    local ok, rc = pcall(driver.main, { "generate", dir .. ".json", "-o", dir })
    io.stderr:close()
    io.stderr = saved -- luacheck: ignore 122
    resnet.build = real
    local text = util.read_file(err_path)
    os.remove(err_path)
    os.remove(dir .. ".json")
    assert.is_true(ok)
    assert.are.equal(1, rc)
    assert.is_truthy(text:find("^timmc: internal error: invalid IR: conv1: attribute 'fn' must " ..
                               "be an activation %(one of [^\n]*%), got 'silux'\n$"), text)
    assert.is_nil(io.open(dir .. "/net.c", "r")) -- nothing written
  end)
end)

describe("activations", function()
  local function acts(m)
    local out = {}
    for _, n in ipairs(m.nodes) do
      if n.kind == "act" then out[n.fn] = (out[n.fn] or 0) + 1 end
    end
    return out
  end

  it("fuses a clamp activation into the op and clamps its output range", function()
    local m = compile_until(spec("resnet18", { act_layer = "relu6" }), "emit_c")
    local c1 = helper.node(m, "conv1")
    assert.are.equal("relu6", c1.act)
    assert.are.same({}, acts(m))
    assert.is_truthy(m.c_source:find("/*output_min=*/0.0f, /*output_max=*/6.0f", 1, true))
    -- Winograd's output transform clamps at 0 or not at all: relu6 convs stay direct
    m = compile_until(spec("resnet18", { act_layer = "relu6", winograd = "always" }), "winograd")
    assert.are.equal("conv", helper.node(m, "layer1.0.conv1").kind) -- relu6
    assert.are.equal("wino_conv", helper.node(m, "layer1.0.conv2").kind) -- no activation
    m = compile_until(spec("resnet18", { winograd = "always" }), "winograd")
    assert.are.equal("wino_conv", helper.node(m, "layer1.0.conv1").kind)
  end)

  -- The old bug: an activation the conv could not fuse ran as no activation
  -- at all (the clamp fell through to -INFINITY..INFINITY).
  it("runs a non-clamp act_layer as an act node after every op that had it", function()
    local m = compile_until(spec("resnet18", { act_layer = "sigmoid" }), "emit_c")
    for _, n in ipairs(m.nodes) do
      assert.is_nil(n.act, n.name) -- nothing fused
    end
    -- the stem, and conv1 and the add of each of the 8 blocks: timm's act1, act2
    assert.are.same({ sigmoid = 17 }, acts(m))
    local a = m.tensors[helper.node(m, "layer1.0.act1", "act").output]
    assert.are.equal("layer1.0.act1", a.name)
    -- sigmoid is XNNPACK's own operator
    assert.is_truthy(m.c_source:find("xnn_create_sigmoid_nc_f32", 1, true))
  end)

  it("names act_layer's accepted values when it is wrong", function()
    local err = helper.error_of(compile_until, spec("resnet18", { act_layer = "swishy" }))
    assert.is_true(util.is_user_error(err))
    assert.is_truthy(err.msg:find("^test.json: key 'act_layer' is \"swishy\", expected one of " ..
                                  ".*relu, relu6.*sigmoid"), err.msg)
    err = helper.error_of(compile_until, spec("densenet121", { act_layer = "relu" }))
    assert.is_truthy(err.msg:find("key 'act_layer': timmc takes it for the resnet family only",
                                  1, true), err.msg)
  end)
end)

describe("typed tensors", function()
  it("gives every tensor a dtype and plans bytes from it", function()
    local m = compile_until(spec("resnet18", { input_size = { 3, 40, 40 } }), "plan_memory")
    for _, t in ipairs(m.tensors) do
      assert.are.equal("f32", t.dtype, t.name)
      if t.bytes and not t.alias then
        assert.are.equal(0, t.bytes % m.backend.align)
        assert.is_true(t.bytes >= ir.bytes(t) and t.bytes < ir.bytes(t) + m.backend.align, t.name)
      end
    end
    -- a 1-byte dtype would plan a quarter of the bytes
    ir.DTYPES.test8 = { bytes = 1, c = "int8_t" }
    local t = { dtype = "test8", shape = { 1, 4, 4, 8 } }
    assert.are.equal(128, ir.bytes(t))
    ir.DTYPES.test8 = nil
  end)

  it("names each tensor it uses in the C, with its timm module and shape", function()
    local m = compile_until(spec("resnet18", { input_size = { 3, 40, 40 } }), "emit_c")
    local src = m.c_source
    assert.is_truthy(src:find("static float %*const t%d+_layer1_0_act1 = %(float %*%)%(arena %+ %d+%);" ..
                              " /%* layer1%.0%.act1 %[1,10,10,64%] %*/"), "no named tensor")
    assert.is_nil(src:find("/*input=*/arena", 1, true))
    assert.is_truthy(src:find("/%*input=%*/t%d+_"))
  end)
end)

describe("weights_bytes", function()
  it("counts a conv's and a linear layer's weights as float32 or int8 reads them", function()
    local m = compile_until(spec("resnet18", { precision = "int8", num_classes = 10 }), "emit_c")
    local numel = {}
    for _, p in ipairs(m.state_dict) do numel[p.name] = util.prod(p.shape) end
    local function count(key) return assert(numel[key], key) end
    -- 3x3 64->64 with bn1 folded: timm's weight and four BatchNorm tensors,
    -- or the int8 weight and a float32 scale and bias per output channel
    local conv = helper.node(m, "layer1.0.conv1", "conv")
    assert.are.equal((64 * 64 * 9 + 4 * 64) * 4, ops.weights_bytes(conv, "f32", count))
    assert.are.equal(64 * 64 * 9 + 2 * 64 * 4, ops.weights_bytes(conv, "qs8", count))
    -- fc 512->10: weight and bias, or as a 1x1 conv of one group
    local fc = helper.node(m, "fc", "linear")
    assert.are.equal((512 * 10 + 10) * 4, ops.weights_bytes(fc, "f32", count))
    assert.are.equal(512 * 10 + 2 * 10 * 4, ops.weights_bytes(fc, "qs8", count))
    -- the model's figure sums every node's, each in the dtype it runs in
    local total = 0
    for _, n in ipairs(m.nodes) do
      total = total + ops.weights_bytes(n, m.tensors[n.output].dtype, count)
    end
    assert.are.equal("qs8", m.tensors[conv.output].dtype)
    assert.is_truthy(m.c_source:find(".weights_bytes = " .. total .. ",", 1, true))
  end)
end)

describe("util.float_repr", function()
  it("prints whole floats as C floating constants", function()
    assert.are.equal("1.0", util.float_repr(1.0))
    assert.are.equal("-3.0", util.float_repr(-3.0))
    assert.are.equal("1e+20", util.float_repr(1e20))
    assert.are.equal("0.5", util.float_repr(0.5))
    assert.are.equal("1e-05", util.float_repr(1e-5))
    assert.are.equal("7", util.float_repr(7)) -- integers stay integers
  end)
end)
