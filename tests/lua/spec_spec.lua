-- luacheck: std +busted
-- spec.lua: timm's defaults are filled in, out_indices follow timm, and every
-- bad spec is one user error (util.is_user_error) whose message names the key.
local helper = require("helper")
local spec = require("spec")
local util = require("util")


local function base(extra)
  local raw = { name = "net", architecture = "resnet50" }
  for k, v in pairs(extra or {}) do raw[k] = v end
  return raw
end

-- spec.check must raise a user error; returns its message.
local function user_error(raw)
  local ok, err = pcall(spec.check, raw, "test.json")
  assert(not ok, "spec.check accepted a bad spec")
  assert(util.is_user_error(err), "not a user error: " .. tostring(err))
  assert(err.msg:sub(1, #"test.json: ") == "test.json: ",
         "message does not start with the spec path: " .. err.msg)
  return err.msg
end

local function has(msg, s)
  assert(msg:find(s, 1, true), string.format("expected %q in the message: %s", s, msg))
end

local function with_file(text, fn)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  local ok, err = pcall(fn, path)
  os.remove(path)
  if not ok then error(err, 0) end
end

-- spec.load must raise a user error naming the file; returns its message.
local function load_error(text)
  local msg
  with_file(text, function(path)
    local ok, err = pcall(spec.load, path)
    assert(not ok, "spec.load accepted " .. text)
    assert(util.is_user_error(err), "not a user error: " .. tostring(err))
    has(err.msg, path)
    msg = err.msg
  end)
  return msg
end

describe("spec.check defaults", function()
  it("fills timm's defaults", function()
    local s, arch = spec.check(base(), "test.json")
    assert.are.equal("net", s.name)
    assert.are.equal("resnet50", s.architecture)
    assert.are.equal("resnet50", arch.name)
    assert.are.equal("resnet", arch.family)
    assert.is_false(s.features_only)
    assert.are.equal(1000, s.num_classes)
    assert.are.equal("avg", s.global_pool)
    assert.are.equal(32, s.output_stride)
    assert.are.equal(1, s.batch_size)
    assert.are.same({ 3, 224, 224 }, s.input_size)
    assert.are.same({ 0, 1, 2, 3, 4 }, s.out_indices)
    assert.are.equal("test.json", s.spec_path)
  end)

  it("does not share the catalogue's input_size table", function()
    local s = spec.check(base(), "test.json")
    s.input_size[2] = 7
    assert.are.same({ 3, 224, 224 }, spec.check(base(), "test.json").input_size)
  end)

  it("keeps given values", function()
    local s = spec.check(base({ num_classes = 0, global_pool = "", batch_size = 4,
                                input_size = { 3, 97, 61 }, output_stride = 16 }), "test.json")
    assert.are.equal(0, s.num_classes)
    assert.are.equal("", s.global_pool)
    assert.are.equal(4, s.batch_size)
    assert.are.same({ 3, 97, 61 }, s.input_size)
    assert.are.equal(16, s.output_stride)
  end)

  it("turns integral floats (how cjson decodes JSON numbers) into integers", function()
    local s = spec.check(base({ batch_size = 2.0, input_size = { 3.0, 64.0, 32.0 },
                                output_stride = 8.0, num_classes = 10.0, features_only = true,
                                out_indices = { 1.0, -1.0 } }), "test.json")
    for _, v in ipairs({ s.batch_size, s.output_stride, s.num_classes, s.input_size[1],
                         s.input_size[2], s.input_size[3], s.out_indices[1], s.out_indices[2] }) do
      assert.are.equal("integer", math.type(v))
    end
    assert.are.same({ 1, 4 }, s.out_indices)
  end)

  it("accepts every pool timm's create_classifier knows", function()
    for _, p in ipairs({ "avg", "max", "avgmax", "catavgmax" }) do
      assert.are.equal(p, spec.check(base({ global_pool = p }), "test.json").global_pool)
    end
    assert.are.equal("", spec.check(base({ global_pool = "", num_classes = 0 }),
                                    "test.json").global_pool)
  end)

  it("loads every checked-in spec", function()
    local p = io.popen("ls '" .. helper.root .. "/models/specs/'")
    local n = 0
    for file in p:lines() do
      if file:match("%.json$") then
        local path = helper.root .. "/models/specs/" .. file
        local s = spec.load(path)
        assert.are.equal((file:gsub("%.json$", "")), s.name)
        assert.are.equal(path, s.spec_path)
        n = n + 1
      end
    end
    p:close()
    assert.is_true(n > 0)
  end)
end)

describe("spec.check out_indices", function()
  local function indices(v)
    return spec.check(base({ features_only = true, out_indices = v }), "test.json").out_indices
  end

  it("maps negative indices and sorts into module order, as timm returns them", function()
    assert.are.same({ 2, 4 }, indices({ -1, -3 }))
    assert.are.same({ 2, 4 }, indices({ 4, 2 }))
    assert.are.same({ 0, 3 }, indices({ 3, -5 }))
    assert.are.same({ 1 }, indices({ 1 }))
  end)

  it("reads an integer n as the last n levels (timm's tuple(range(-n, 0)))", function()
    assert.are.same({ 2, 3, 4 }, indices(3))
    assert.are.same({ 4 }, indices(1))
    assert.are.same({ 0, 1, 2, 3, 4 }, indices(5))
  end)

  it("defaults to all five levels with features_only", function()
    assert.are.same({ 0, 1, 2, 3, 4 },
                    spec.check(base({ features_only = true }), "test.json").out_indices)
  end)

  it("rejects indices out of range", function()
    for _, v in ipairs({ { 5 }, { -6 }, { 0, 9 }, 0, 6, -1 }) do
      has(user_error(base({ features_only = true, out_indices = v })), "'out_indices'")
    end
  end)

  it("rejects a level named twice", function()
    has(user_error(base({ features_only = true, out_indices = { 1, 1 } })), "'out_indices'")
    has(user_error(base({ features_only = true, out_indices = { 1, -4 } })), "'out_indices'")
  end)

  it("rejects non-lists and non-integers", function()
    for _, v in ipairs({ {}, "1", true, { 1.5 }, { "1" }, { { 1 } }, { a = 1 }, 2.5 }) do
      has(user_error(base({ features_only = true, out_indices = v })), "'out_indices'")
    end
  end)

  it("needs features_only, as in timm", function()
    has(user_error(base({ out_indices = { 1 } })), "'out_indices'")
    has(user_error(base({ out_indices = { 1 }, features_only = false })), "features_only")
  end)
end)

describe("spec.check errors", function()
  it("rejects an unknown key and lists the known ones", function()
    local msg = user_error(base({ outputstride = 8 }))
    has(msg, "'outputstride'")
    has(msg, "output_stride")
    has(user_error(base({ [1] = 5 })), "'1'")
  end)

  it("rejects a string, a fractional float and a bool where an integer goes", function()
    for _, v in ipairs({ "2", 2.5, true, {}, { 2 } }) do
      has(user_error(base({ batch_size = v })), "'batch_size'")
    end
    for _, key in ipairs({ "num_classes", "output_stride" }) do
      for _, v in ipairs({ "8", 2.5, false }) do
        has(user_error(base({ [key] = v })), "'" .. key .. "'")
      end
    end
  end)

  it("rejects out-of-range integers", function()
    has(user_error(base({ batch_size = 0 })), "'batch_size'")
    has(user_error(base({ batch_size = -3 })), "'batch_size'")
    has(user_error(base({ batch_size = 4097 })), "'batch_size'")
    has(user_error(base({ num_classes = -1 })), "'num_classes'")
    has(user_error(base({ input_size = { 3, 0, 224 } })), "'input_size'")
    has(user_error(base({ input_size = { 3, 224, 16385 } })), "'input_size'")
  end)

  it("rejects huge integers that still fit in 64 bits", function()
    has(user_error(base({ batch_size = math.maxinteger })), "'batch_size'")
    has(user_error(base({ batch_size = math.mininteger })), "'batch_size'")
    has(user_error(base({ num_classes = 2 ^ 53 })), "'num_classes'")
    has(user_error(base({ output_stride = 1 << 40 })), "'output_stride'")
    has(user_error(base({ features_only = true, out_indices = { 1 << 40 } })), "'out_indices'")
  end)

  it("rejects an input_size that is not [C, H, W]", function()
    for _, v in ipairs({ { 3, 224 }, { 3, 224, 224, 1 }, 224, "3,224,224", { c = 3 } }) do
      has(user_error(base({ input_size = v })), "'input_size'")
    end
  end)

  it("rejects output_stride other than 8, 16, 32", function()
    for _, v in ipairs({ 12, 4, 64, 0, -8 }) do
      local msg = user_error(base({ output_stride = v }))
      has(msg, "'output_stride'")
      has(msg, tostring(v))
    end
  end)

  it("rejects an unknown architecture and suggests close names", function()
    local msg = user_error(base({ architecture = "resnet5" }))
    has(msg, "'resnet5'")
    has(msg, "(closest: resnet50")
    has(user_error(base({ architecture = "ecaresnet50" })), "ecaresnet50d")
    has(user_error(base({ architecture = 50 })), "'architecture'")
  end)

  it("takes winograd auto, always or never, auto by default", function()
    assert.are.equal("auto", spec.check(base(), "t.json").winograd)
    for _, v in ipairs({ "auto", "always", "never" }) do
      assert.are.equal(v, spec.check(base({ winograd = v }), "t.json").winograd)
    end
    for _, v in ipairs({ true, "yes", "Auto", 1 }) do
      has(user_error(base({ winograd = v })), "'winograd'")
    end
  end)

  it("rejects an unknown global_pool", function()
    for _, v in ipairs({ "mean", "AVG", 1, true }) do
      has(user_error(base({ global_pool = v })), "'global_pool'")
    end
  end)

  it("rejects global_pool '' with a classifier (timm's fc would get an unpooled map)", function()
    has(user_error(base({ global_pool = "" })), "'global_pool'")
    local msg = user_error(base({ global_pool = "", num_classes = 10 }))
    has(msg, "'global_pool'")
    has(msg, "num_classes")
  end)

  it("rejects a name that is not a C identifier", function()
    for _, v in ipairs({ "1net", "my-net", "a b", "", "net.c", string.rep("a", 65), "né" }) do
      has(user_error(base({ name = v })), "'name'")
    end
    has(user_error(base({ name = 7 })), "'name'")
    assert.are.equal("n3t_", spec.check(base({ name = "n3t_" }), "test.json").name)
  end)

  it("names a missing required key", function()
    has(user_error({ architecture = "resnet50" }), "'name'")
    has(user_error({ name = "net" }), "'architecture'")
  end)

  it("rejects a non-object", function()
    has(user_error("resnet50"), "JSON object")
    has(user_error({ 1, 2 }), "JSON object")
    has(user_error(42), "JSON object")
  end)

  it("rejects null values", function()
    local null = require("cjson").null
    has(user_error(base({ batch_size = null })), "'batch_size'")
    has(user_error(base({ features_only = null })), "'features_only'")
    has(user_error(base({ name = null })), "'name'")
  end)
end)

describe("spec.load", function()
  it("reads a file", function()
    with_file('{"name": "net", "architecture": "resnet18", "batch_size": 3}', function(path)
      local s, arch = spec.load(path)
      assert.are.equal(3, s.batch_size)
      assert.are.equal("integer", math.type(s.batch_size))
      assert.are.equal("resnet18", arch.name)
      assert.are.equal(path, s.spec_path)
    end)
  end)

  it("rejects invalid JSON", function()
    for _, text in ipairs({ "{", "", "not json", '{"name": "net",}', '{"name": "n"} x' }) do
      has(load_error(text), "not valid JSON")
    end
  end)

  it("rejects JSON that is not an object", function()
    for _, text in ipairs({ "[1,2]", '"resnet50"', "3", "null", "true" }) do
      has(load_error(text), "must be a JSON object")
    end
  end)

  it("rejects a missing file", function()
    local path = os.tmpname()
    os.remove(path)
    local ok, err = pcall(spec.load, path)
    assert.is_false(ok)
    assert.is_true(util.is_user_error(err), tostring(err))
    has(err.msg, path)
  end)
end)

-- Regression: numbers that are integral floats outside the 64-bit range (JSON
-- 1e300, 9223372036854775808, Infinity, which lua-cjson decodes), and NaN,
-- once raised Lua errors in spec.lua's integer check instead of a user error.
describe("spec.check with numbers beyond 64-bit integers", function()
  local function check_user_error(extra, key)
    has(user_error(base(extra)), "'" .. key .. "'")
  end

  it("rejects them as a user error naming the key", function()
    for _, v in ipairs({ 1e300, 2 ^ 63, -2 ^ 64, math.huge, -math.huge, 0 / 0 }) do
      check_user_error({ batch_size = v }, "batch_size")
      check_user_error({ num_classes = v }, "num_classes")
      check_user_error({ output_stride = v }, "output_stride")
      check_user_error({ input_size = { 3, v, 224 } }, "input_size")
    end
  end)

  it("rejects out_indices [1e300] instead of returning no features", function()
    check_user_error({ features_only = true, out_indices = { 1e300 } }, "out_indices")
    check_user_error({ features_only = true, out_indices = { 2, 2 ^ 63 } }, "out_indices")
  end)

  it("rejects NaN, Infinity and hex read from a JSON file", function()
    -- not JSON at all (lua-cjson takes them unless told not to)
    for _, v in ipairs({ "NaN", "Infinity", "0x10", "-Infinity" }) do
      has(load_error('{"name": "n", "architecture": "resnet50", "batch_size": ' .. v .. "}"),
          "not valid JSON")
    end
    has(load_error('{"name": "n", "architecture": "resnet50", "batch_size": 1e300}'),
        "'batch_size'")
  end)
end)
