-- luacheck: std +busted
-- A randomised test of the spec loader: valid specs are mutated (keys deleted,
-- set to values of other types, odd numbers, nested tables, random strings,
-- unknown keys; JSON text edited) and every case must either compile through
-- plan_memory or raise a user error (util.is_user_error), never another Lua
-- error. The seed is fixed; TIMMC_FUZZ_SEED picks another one.
-- Numbers with no exact integer (1e300, 2^63, Infinity, NaN) are in the mix.
local helper = require("helper")
local spec = require("spec")
local util = require("util")
local cjson = require("cjson")
local catalogue = require("init")

local SEED = tonumber(os.getenv("TIMMC_FUZZ_SEED")) or 20240611
local TABLE_CASES, TEXT_CASES = 500, 150

local KEYS = { "name", "architecture", "features_only", "out_indices", "output_stride",
               "num_classes", "global_pool", "batch_size", "input_size", "winograd",
               "max_arena_bytes" }
local ARCHS = catalogue.names()

local BASES = {
  { name = "resnet50", architecture = "resnet50" },
  { name = "resnet50_features", architecture = "resnet50", features_only = true },
  { name = "resnet50_pooled", architecture = "resnet50", num_classes = 0, batch_size = 2 },
  { name = "resnet50_unpooled", architecture = "resnet50", num_classes = 0, global_pool = "",
    batch_size = 2 },
  { name = "ecaresnet101d_os8", architecture = "ecaresnet101d", features_only = true,
    out_indices = { 2, 4 }, output_stride = 8, batch_size = 2, input_size = { 3, 320, 320 } },
  { name = "r18", architecture = "resnet18", features_only = true, out_indices = { -1 },
    output_stride = 8, input_size = { 3, 45, 31 } },
  { name = "se", architecture = "seresnet50", num_classes = 10, global_pool = "max",
    input_size = { 3, 64, 48 } },
  { name = "rx", architecture = "resnext50_32x4d", num_classes = 0, global_pool = "catavgmax" },
  { name = "eca", architecture = "ecaresnet50d", global_pool = "avgmax", output_stride = 16,
    input_size = { 3, 97, 61 } },
  { name = "r50d", architecture = "resnet50d", features_only = true, out_indices = 3 },
}

local function pick(list) return list[math.random(#list)] end

local INTS = { 0, 1, -1, 2, 3, 4, 5, -5, -6, 6, 7, 8, 12, 16, 32, 64, 224, 1000, 4096, 4097,
               16384, 16385, 1 << 20, (1 << 20) + 1, 1 << 31, -(1 << 31), 1 << 53,
               math.maxinteger, math.mininteger }
local FLOATS = { 2.5, -0.5, 1e-9, 0.1, 3.0, 224.0, 8.0, -0.0, 2.0 ^ 53, 1e18,
                 -- no 64-bit integer (these once raised Lua errors in spec.lua)
                 1e300, 2.0 ^ 63, -2.0 ^ 64, math.huge, -math.huge, 0 / 0 }
local CHARS = "abcdefghijklmnopqrstuvwxyz_0123456789 -.\"'\\/{}[]:,\0\n\t\195\169"

local function random_string()
  if math.random() < 0.3 then return pick({ "", "avg", "max", "resnet50", "null", "true", "1" }) end
  local t = {}
  for i = 1, math.random(0, 12) do
    local j = math.random(#CHARS)
    t[i] = CHARS:sub(j, j)
  end
  return table.concat(t)
end

local random_value

local function random_table(depth)
  local t = {}
  if math.random() < 0.5 then
    for i = 1, math.random(0, 4) do t[i] = random_value(depth + 1) end
  else
    for _ = 1, math.random(0, 3) do t[random_string()] = random_value(depth + 1) end
  end
  return t
end

-- any JSON-like value; nil stands for a deleted key
function random_value(depth)
  depth = depth or 0
  local r = math.random(depth >= 3 and 7 or 9)
  if r == 1 then return math.random(-10, 300)
  elseif r == 2 then return pick(INTS)
  elseif r == 3 then return pick(FLOATS)
  elseif r == 4 then return math.random() < 0.5
  elseif r == 5 then return cjson.null
  elseif r == 6 then return random_string()
  elseif r == 7 then return -math.random(1, 1 << 40)
  else return random_table(depth)
  end
end

local function mutate_name(s)
  if #s == 0 then return random_string() end
  local i = math.random(#s)
  local r = math.random(3)
  if r == 1 then return s:sub(1, i - 1) .. s:sub(i + 1) end
  local j = math.random(#CHARS)
  return s:sub(1, i - 1) .. CHARS:sub(j, j) .. s:sub(r == 2 and i + 1 or i)
end

-- a value of the right type, often valid, sometimes just outside
local plausible = {
  name = function() return pick({ "net", "_x1", "Net_2", mutate_name("model_name"), "1x" }) end,
  architecture = function()
    return math.random() < 0.8 and pick(ARCHS) or mutate_name(pick(ARCHS))
  end,
  features_only = function() return math.random() < 0.6 end,
  out_indices = function()
    if math.random() < 0.3 then return math.random(-1, 6) end
    local t = {}
    for i = 1, math.random(1, 5) do t[i] = math.random(-7, 7) end
    return t
  end,
  output_stride = function() return pick({ 8, 16, 32, 8, 16, 32, 4, 12, 64, 0, 8.0 }) end,
  num_classes = function() return pick({ 0, 1, 10, 1000, 0, -1, 1 << 20, (1 << 20) + 1 }) end,
  global_pool = function() return pick({ "avg", "max", "avgmax", "catavgmax", "", "mean" }) end,
  batch_size = function() return pick({ 1, 2, 3, 0, 4096, 4097, 2.0 }) end,
  winograd = function() return pick({ "auto", "always", "never", "Always", true, "" }) end,
  max_arena_bytes = function() return pick({ 1, 1 << 20, 1 << 30, 0, -1, 1e300 }) end,
  input_size = function()
    local t = { pick({ 1, 3, 4, 0 }), math.random(0, 300), math.random(0, 300) }
    if math.random() < 0.1 then t[#t + 1] = 3 end
    if math.random() < 0.1 then t[#t] = nil end
    if math.random() < 0.05 then t[2] = 16384 end
    return t
  end,
}

local function copy(v)
  if type(v) ~= "table" or v == cjson.null then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return t
end

local function mutate(raw)
  if type(raw) ~= "table" then return raw end
  local r = math.random(100)
  if r <= 12 then
    raw[pick(KEYS)] = nil
  elseif r <= 35 then
    raw[pick(KEYS)] = random_value()
  elseif r <= 80 then
    local k = pick(KEYS)
    raw[k] = plausible[k]()
  elseif r <= 88 then
    raw[random_string()] = random_value()
  elseif r <= 95 then
    raw.features_only = not raw.features_only
  elseif r <= 98 then
    return random_value()
  else
    raw[math.random(1, 3)] = random_value()
  end
  return raw
end

-- a readable, deterministic rendering of a case for failure messages
local function show(v)
  if v == cjson.null then return "null" end
  if type(v) == "string" then return string.format("%q", v) end
  if math.type(v) == "float" then return string.format("%.17g", v) end
  if type(v) ~= "table" then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = "[" .. show(k) .. "]=" .. show(v[k]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function traceback(e)
  if util.is_user_error(e) then return e end
  local lines = {}
  for line in debug.traceback(tostring(e), 2):gmatch("[^\n]+") do
    if line:find("xpcall", 1, true) then break end
    lines[#lines + 1] = line
  end
  return table.concat(lines, "\n")
end

-- Runs one case. Returns "ok", "rejected", or nil and the internal error.
local function run(fn)
  local ok, err = xpcall(fn, traceback)
  if ok then return "ok" end
  if util.is_user_error(err) then return "rejected" end
  return nil, err
end

describe("fuzzed specs", function()
  local stats = { ok = 0, rejected = 0, json = 0 }
  local failures = {}

  local function record(what, case, result, err)
    if result then
      stats[result] = stats[result] + 1
    elseif #failures < 5 then
      failures[#failures + 1] = string.format("%s %s\n  -> %s", what, case, err)
    else
      failures.more = (failures.more or 0) + 1
    end
  end

  local function check_table(raw, what)
    local result, err = run(function()
      spec.check(raw, "fuzz.json")
      helper.compile_until(raw, "plan_memory")
    end)
    record(what, show(raw), result, err)
  end

  it("never raise anything but a user error (" .. TABLE_CASES .. " table cases)", function()
    math.randomseed(SEED)
    local t0 = os.clock()
    for _ = 1, TABLE_CASES do
      local raw = copy(pick(BASES))
      for _ = 1, math.random(1, 3) do raw = mutate(raw) end
      check_table(raw, "spec.check")
      -- the same case as the JSON text a user would write: cjson decodes
      -- every number as a float
      if type(raw) == "table" then
        local ok, text = pcall(cjson.encode, raw)
        if ok then
          local decoded = cjson.decode(text)
          stats.json = stats.json + 1
          check_table(decoded, "json " .. text)
        end
      end
    end
    print(string.format("\n  fuzz (seed %d): %d compiled, %d rejected, " ..
                        "%d via JSON, %.2f s", SEED, stats.ok, stats.rejected,
                        stats.json, os.clock() - t0))
    if failures.more then failures[#failures + 1] = failures.more .. " more" end
    assert(#failures == 0, "internal errors:\n" .. table.concat(failures, "\n"))
    -- the mutations reach both sides
    assert.is_true(stats.ok >= 100, "only " .. stats.ok .. " cases compiled")
    assert.is_true(stats.rejected >= 100, "only " .. stats.rejected .. " cases rejected")
  end)

  it("never raise anything but a user error (" .. TEXT_CASES .. " edited JSON texts)", function()
    math.randomseed(SEED + 1)
    local ALPHABET = '{}[]":,0123456789.-+eE0123456789.-+eE truefalsnul\\'
    local path = os.tmpname()
    local counts = { ok = 0, rejected = 0 }
    local errors = {}
    for _ = 1, TEXT_CASES do
      local text = cjson.encode(pick(BASES))
      for _ = 1, math.random(1, 3) do
        local i = math.random(#text + 1)
        -- half the edits land on a digit, where the text stays JSON more often
        if math.random() < 0.5 then
          local digits = {}
          for d in text:gmatch("()%d") do digits[#digits + 1] = d end
          i = pick(digits)
        end
        local j = math.random(#ALPHABET)
        local r = math.random(3)
        if r == 1 then
          text = text:sub(1, i - 1) .. text:sub(i + 1)
        else
          text = text:sub(1, i - 1) .. ALPHABET:sub(j, j) .. text:sub(r == 2 and i + 1 or i)
        end
      end
      local f = assert(io.open(path, "wb"))
      f:write(text)
      f:close()
      local result, err = run(function()
        local s = spec.load(path)
        assert(s.spec_path == path)
        helper.compile_until(cjson.decode(text), "plan_memory")
      end)
      if result then
        counts[result] = counts[result] + 1
      elseif #errors < 5 then
        errors[#errors + 1] = string.format("%s\n  -> %s", text, err)
      end
    end
    os.remove(path)
    print(string.format("\n  fuzz JSON text: %d compiled, %d rejected", counts.ok, counts.rejected))
    assert(#errors == 0, "internal errors:\n" .. table.concat(errors, "\n"))
    assert.is_true(counts.rejected > 0 and counts.ok > 0)
  end)
end)
