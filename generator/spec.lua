-- spec.lua: reads and validates a timmc spec (JSON with timm's create_model
-- keywords) and fills timm's defaults. Every problem is one util.fail naming
-- the key and what was expected.
local cjson = require("cjson").new()
local util = require("util")

-- JSON as the standard has it: no hex, Infinity or NaN numbers (lua-cjson's
-- default takes them)
cjson.decode_invalid_numbers(false)
local catalogue = require("init")

local spec = {}

local POOLS = { avg = true, max = true, avgmax = true, catavgmax = true, [""] = true }

-- cjson reads every number as a float: an integer is one that is whole and
-- small enough to be exact (this also turns away inf, nan and 1e300).
local function is_int(v)
  return type(v) == "number" and math.abs(v) < 2 ^ 53 and math.tointeger(v) ~= nil
end

local function show(v)
  if type(v) == "number" then return tostring(v) end
  if type(v) == "string" then return string.format("%q", v) end
  if v == cjson.null then return "null" end
  return type(v) == "table" and "a list or object" or tostring(v)
end

local function check_int(path, key, v, lo, hi)
  if not is_int(v) then
    util.fail("%s: key '%s' must be an integer, got %s", path, key, show(v))
  end
  v = math.tointeger(v)
  if (lo and v < lo) or (hi and v > hi) then
    util.fail("%s: key '%s' is %d, expected %s", path, key, v,
              hi and string.format("%d..%d", lo, hi) or string.format(">= %d", lo))
  end
  return v
end

local function check_type(path, key, v, want)
  if type(v) ~= want then
    local got = v == cjson.null and "null" or type(v)
    util.fail("%s: key '%s' must be a %s, got %s", path, key, want, got)
  end
  return v
end

local function is_array(v)
  if type(v) ~= "table" then return false end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  return n == #v
end

local function suggest(name)
  local scored = {}
  for _, n in ipairs(catalogue.names()) do
    scored[#scored + 1] = { n = n, d = util.edit_distance(name, n) }
  end
  table.sort(scored, function(a, b) return a.d < b.d or (a.d == b.d and a.n < b.n) end)
  local out = {}
  for i = 1, math.min(3, #scored) do out[i] = scored[i].n end
  return table.concat(out, ", ")
end

local fields = {}

-- Names the emitted symbols (NAME_init, NAME_model, NAME.h ...) would share
-- with C, POSIX or the libraries a model links: the header files of C, POSIX
-- and those libraries (NAME.h would shadow <string.h> from the output
-- folder, which the compile puts first), and the
-- prefixes C, POSIX and the libraries reserve (pthread_mutex would define
-- pthread_mutex_init).
local RESERVED_NAMES = {}
for n in ([[assert complex ctype errno fenv float inttypes iso646 limits locale math setjmp
  signal stdalign stdarg stdatomic stdbool stddef stdint stdio stdlib stdnoreturn string
  tgmath threads time uchar wchar wctype aio cpio dirent dlfcn fcntl fmtmsg fnmatch ftw
  glob grp iconv langinfo libgen monetary mqueue ndbm netdb nl_types poll pthread
  pwd regex sched search semaphore spawn strings stropts syslog tar termios trace ulimit
  unistd utime utmpx wordexp alloca malloc memory features endian byteswap xnnpack pthreadpool
  jpeglib jconfig jerror jmorecfg main]]):gmatch("%S+") do
  RESERVED_NAMES[n] = true
end
local RESERVED_PREFIXES = { "timmc", "xnn", "pthread", "cJSON", "cjson", "stbi", "stb_", "jpeg_",
                            "jinit_", "sem_", "sig", "SIG", "LC_", "PRI", "SCN", "posix_", "_" }
-- C's own: str, mem, wcs, is, to followed by a lowercase letter; E followed
-- by a digit or capital (errno values)
local RESERVED_PATTERNS = { "^str%l", "^mem%l", "^wcs%l", "^is%l", "^to%l", "^E[%d%u]" }

function fields.name(path, v)
  check_type(path, "name", v, "string")
  if not v:match("^[%a_][%w_]*$") or #v > 64 then
    util.fail("%s: key 'name' must be a C identifier (letters, digits, _; at most 64), got %q",
              path, v)
  end
  local why
  if RESERVED_NAMES[v] then why = "a C, POSIX or library header's name" end
  for _, p in ipairs(RESERVED_PREFIXES) do
    if not why and v:sub(1, #p) == p then why = "the prefix '" .. p .. "' is reserved" end
  end
  for _, p in ipairs(RESERVED_PATTERNS) do
    if not why and v:match(p) then why = "C reserves names like it for its library" end
  end
  if why then
    util.fail("%s: key 'name' is %q, which would collide with the C library, POSIX or the " ..
              "libraries a model links (%s): choose another, e.g. %q", path, v, why,
              "net_" .. v:gsub("^_+", ""))
  end
  return v
end

function fields.architecture(path, v)
  check_type(path, "architecture", v, "string")
  if not catalogue.lookup(v) then
    if catalogue.in_timm(v) then
      util.fail("%s: architecture '%s' is a timm model timmc does not support yet " ..
                "(nearest supported: %s)", path, v, suggest(v))
    end
    util.fail("%s: unknown architecture '%s' (closest: %s)", path, v, suggest(v))
  end
  return v
end

function fields.features_only(path, v) return check_type(path, "features_only", v, "boolean") end

function fields.out_indices(path, v)
  if is_int(v) then return { last_n = check_int(path, "out_indices", v, 1, 64) } end
  if not is_array(v) or #v == 0 then
    util.fail("%s: key 'out_indices' must be a non-empty list of integers or an integer", path)
  end
  local out = {}
  for i, x in ipairs(v) do out[i] = check_int(path, "out_indices", x) end
  return out
end

function fields.output_stride(path, v)
  local os = check_int(path, "output_stride", v)
  if os ~= 8 and os ~= 16 and os ~= 32 then
    util.fail("%s: key 'output_stride' is %d, expected 8, 16 or 32", path, os)
  end
  return os
end

function fields.num_classes(path, v) return check_int(path, "num_classes", v, 0, 1 << 20) end

function fields.global_pool(path, v)
  check_type(path, "global_pool", v, "string")
  if not POOLS[v] then
    util.fail("%s: key 'global_pool' is %q, expected \"avg\", \"max\", \"avgmax\", " ..
              "\"catavgmax\" or \"\"", path, v)
  end
  return v
end

function fields.batch_size(path, v) return check_int(path, "batch_size", v, 1, 4096) end

function fields.input_size(path, v)
  if not is_array(v) or #v ~= 3 then
    util.fail("%s: key 'input_size' must be a list [C, H, W]", path)
  end
  return { check_int(path, "input_size", v[1], 1, 4096), check_int(path, "input_size", v[2], 1, 16384),
           check_int(path, "input_size", v[3], 1, 16384) }
end

-- timmc's own keys (not timm's): weights linked into the binary, a memory budget
function fields.embed_weights(path, v)
  check_type(path, "embed_weights", v, "string")
  if v == "" or v:find('[%c"\\]') then
    util.fail("%s: key 'embed_weights' must be a file path without quotes, backslashes or " ..
              "control characters, got %q", path, v)
  end
  local file = v:sub(1, 1) == "/" and v or util.dirname(path) .. "/" .. v
  if not util.is_regular(file) then
    util.fail("%s: key 'embed_weights': %s is not a regular file (a path relative to the " ..
              "spec's folder, of a safetensors file)", path, v)
  end
  local f = io.open(file, "rb")
  if not f then
    util.fail("%s: key 'embed_weights': cannot open %s (a path relative to the spec's folder)",
              path, v)
  end
  f:close()
  return v
end

function fields.max_arena_bytes(path, v) return check_int(path, "max_arena_bytes", v, 1) end

-- 3x3 stride-1 convolutions as Winograd F(4x4, 3x3): "auto" where the cost
-- model predicts it faster, "always" wherever it applies, "never" (every
-- convolution direct, and a quarter of the packed weights for those layers)
function fields.winograd(path, v)
  check_type(path, "winograd", v, "string")
  if v ~= "auto" and v ~= "always" and v ~= "never" then
    util.fail("%s: key 'winograd' is %q, expected \"auto\", \"always\" or \"never\"", path, v)
  end
  return v
end

-- timm's act_layer keyword (get_act_layer's names), for the families that
-- take it: the name of an activation in activations.lua, or one of its aliases.
function fields.act_layer(path, v)
  check_type(path, "act_layer", v, "string")
  local acts = require("activations")
  local names = {}
  for name, a in pairs(acts) do
    if name == v then return name end
    for _, alias in ipairs(a.aliases or {}) do
      if alias == v then return name end
    end
    names[#names + 1] = name
  end
  table.sort(names)
  util.fail("%s: key 'act_layer' is %q, expected one of %s", path, v, table.concat(names, ", "))
end

-- Weights and activations: "f32" (the default), or "int8" (per-channel int8
-- weights, per-tensor int8 activations calibrated by the runner; docs/int8.md).
function fields.precision(path, v)
  check_type(path, "precision", v, "string")
  if v ~= "f32" and v ~= "int8" then
    util.fail("%s: key 'precision' is %q, expected \"f32\" or \"int8\"", path, v)
  end
  return v
end

-- Which implementation runs the graph (generator/backends/NAME.lua).
-- xnnpack: XNNPACK's operators; portable: plain C99 loops (docs/portable.md).
local BACKENDS = { xnnpack = true, portable = true }

function fields.backend(path, v)
  check_type(path, "backend", v, "string")
  if not BACKENDS[v] then
    util.fail("%s: key 'backend' is %q, expected \"xnnpack\" or \"portable\"", path, v)
  end
  return v
end

local ORDER = { "name", "architecture", "features_only", "out_indices", "output_stride",
                "num_classes", "global_pool", "batch_size", "input_size", "embed_weights",
                "max_arena_bytes", "winograd", "backend", "act_layer", "precision" }

-- Validates a decoded spec table; path names the file in messages.
function spec.check(raw, path)
  if type(raw) ~= "table" or is_array(raw) and next(raw) ~= nil then
    util.fail("%s: the spec must be a JSON object", path)
  end
  local keys = {}
  for k in pairs(raw) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if not fields[k] then
      util.fail("%s: unknown key '%s' (known: %s)", path, k, table.concat(ORDER, ", "))
    end
  end
  for _, k in ipairs({ "name", "architecture" }) do
    if raw[k] == nil then util.fail("%s: missing required key '%s'", path, k) end
  end
  local s = { spec_path = path }
  for _, k in ipairs(ORDER) do
    if raw[k] ~= nil then s[k] = fields[k](path, raw[k]) end
  end

  local arch = catalogue.lookup(s.architecture)
  local NUM_LEVELS = 5 -- feature_info entries: five in every family timmc knows
  if s.features_only == nil then s.features_only = false end
  if s.winograd == nil then s.winograd = "auto" end
  if s.backend == nil then s.backend = "xnnpack" end
  if s.precision == nil then s.precision = "f32" end
  if s.act_layer and not arch.cfg.act_layer then
    util.fail("%s: key 'act_layer': timmc takes it for the resnet family only so far, not %s",
              path, s.architecture)
  end
  if s.output_stride == nil then s.output_stride = 32 end
  local supported = arch.cfg.output_stride or { 32 }
  local ok = false
  for _, o in ipairs(supported) do ok = ok or o == s.output_stride end
  if not ok then
    util.fail("%s: key 'output_stride': %s does not support output_stride %d (timm: %s)", path,
              s.architecture, s.output_stride,
              #supported > 1 and "8, 16 or 32" or "no dilation, 32 only")
  end
  if arch.cfg.output_stride_features_only and s.output_stride ~= 32 and not s.features_only then
    util.fail("%s: key 'output_stride': %s takes output_stride %d only with \"features_only\": " ..
              "true (timm's classifier takes no output_stride)", path, s.architecture,
              s.output_stride)
  end
  if s.num_classes == nil then s.num_classes = 1000 end
  if s.global_pool == nil then s.global_pool = "avg" end
  if s.global_pool == "" and s.num_classes > 0 and not s.features_only then
    util.fail("%s: key 'global_pool' is \"\" but num_classes is %d: timm allows no pooling " ..
              "only without a classifier (num_classes 0)", path, s.num_classes)
  end
  if s.batch_size == nil then s.batch_size = 1 end
  if s.input_size == nil then s.input_size = { table.unpack(arch.cfg.input_size) } end

  if s.out_indices ~= nil and not s.features_only then
    util.fail("%s: key 'out_indices' needs \"features_only\": true (as in timm)", path)
  end
  local idx = s.out_indices or { last_n = NUM_LEVELS }
  local list = {}
  if idx.last_n and idx.last_n > NUM_LEVELS then
    util.fail("%s: key 'out_indices' is %d, but %s has %d feature levels", path, idx.last_n,
              s.architecture, NUM_LEVELS)
  end
  if idx.last_n then
    for i = NUM_LEVELS - idx.last_n, NUM_LEVELS - 1 do list[#list + 1] = i end
  else
    local seen = {}
    for _, i in ipairs(idx) do
      local a = i < 0 and NUM_LEVELS + i or i
      if a < 0 or a >= NUM_LEVELS then
        util.fail("%s: key 'out_indices' has %d, out of range for %s's %d feature levels " ..
                  "(%d..%d)", path, i, s.architecture, NUM_LEVELS, -NUM_LEVELS, NUM_LEVELS - 1)
      end
      if seen[a] then util.fail("%s: key 'out_indices' names level %d twice", path, a) end
      seen[a] = true
      list[#list + 1] = a
    end
  end
  -- timm returns the features in module order whatever order out_indices has
  table.sort(list)
  s.out_indices = list
  return s, arch
end

-- The first key an object of the JSON text repeats (lua-cjson keeps the last
-- silently), or nil. The text is valid JSON (decoded already).
local function duplicate_key(text)
  local stack, i, n = {}, 1, #text
  local expect_key = false
  while i <= n do
    local c = text:sub(i, i)
    if c == '"' then
      local j = i + 1
      while true do
        local q = text:find('[\\"]', j)
        if text:sub(q, q) == "\\" then j = q + 2 else j = q break end
      end
      local str = text:sub(i + 1, j - 1)
      local top = stack[#stack]
      if top and expect_key then
        if top[str] then return str end
        top[str] = true
        expect_key = false
      end
      i = j + 1
    else
      if c == "{" then
        stack[#stack + 1] = {}
        expect_key = true
      elseif c == "[" then
        stack[#stack + 1] = false
      elseif c == "}" or c == "]" then
        stack[#stack] = nil
      elseif c == "," then
        expect_key = stack[#stack] ~= false and stack[#stack] ~= nil
      end
      i = i + 1
    end
  end
  return nil
end

spec.MAX_BYTES = 1 << 20 -- a spec is a few hundred bytes

function spec.load(path)
  local text = util.read_file(path, spec.MAX_BYTES)
  local ok, raw = pcall(cjson.decode, text)
  if not ok then
    util.fail("%s: not valid JSON (%s)", path, tostring(raw):gsub("^.-: ", ""))
  end
  local dup = duplicate_key(text)
  if dup then util.fail("%s: key '%s' appears twice in one object", path, dup) end
  return spec.check(raw, path)
end

return spec
