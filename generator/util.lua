-- util.lua: errors, template rendering, number formatting and file output
-- shared by the generator's passes.
local util = {}

-- A user-facing error: raised with util.fail, caught by the driver, printed as
-- one line, exit status 2. Any other Lua error is a bug in timmc.
local UserError = {}
UserError.__index = UserError
UserError.__tostring = function(e) return e.msg end

function util.fail(fmt, ...)
  error(setmetatable({ msg = string.format(fmt, ...) }, UserError), 0)
end

function util.is_user_error(e)
  return getmetatable(e) == UserError
end

-- A graph that breaks the IR's rules (ir.lua, ops.lua): a bug in a model file
-- or a pass, reported in one line naming the node's timm module.
local IRError = {}
IRError.__index = IRError
IRError.__tostring = function(e) return e.msg end

function util.ir_fail(node, fmt, ...)
  local where = type(node) == "table" and tostring(node.name or "?") or tostring(node)
  error(setmetatable({ msg = where .. ": " .. string.format(fmt, ...) }, IRError), 0)
end

function util.is_ir_error(e)
  return getmetatable(e) == IRError
end

-- Renders a template: every $(hole) must be given in vars; every var given
-- must be used. Templates carry no logic.
function util.render(template, vars, what)
  local used = {}
  local out = template:gsub("%$%(([%w_]+)%)", function(key)
    local v = vars[key]
    if v == nil then
      error(string.format("%s: template hole $(%s) has no value", what, key))
    end
    used[key] = true
    return tostring(v)
  end)
  local keys = {}
  for k in pairs(vars) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if not used[k] then
      error(string.format("%s: value %s has no hole in the template", what, k))
    end
  end
  return out
end

-- Shortest decimal form that reads back as the same double.
function util.float_repr(x)
  if x == math.huge then return "INFINITY" end
  if x == -math.huge then return "-INFINITY" end
  if math.type(x) == "integer" then return string.format("%d", x) end
  local s
  for prec = 6, 17 do
    s = string.format("%." .. prec .. "g", x)
    if tonumber(s) == x then break end
  end
  -- a C floating constant needs a point or an exponent ("1f" is not C)
  if not s:find("[.eEn]") then s = s .. ".0" end
  return s
end

function util.shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Whether path names an existing regular file (following symbolic links).
-- Lua's io.open would block on a FIFO and read /dev/zero without end.
function util.is_regular(path)
  return os.execute("test -f " .. util.shell_quote(path)) == true
end

-- The contents of a regular file of at most max_bytes (default: unlimited);
-- anything else is one error naming the path.
function util.read_file(path, max_bytes)
  if not util.is_regular(path) then
    if os.execute("test -e " .. util.shell_quote(path)) == true then
      util.fail("%s: not a regular file (a directory, FIFO or device), expected a file", path)
    end
    util.fail("%s: cannot open (no such file)", path)
  end
  local f, err = io.open(path, "rb")
  if not f then util.fail("%s: cannot open (%s)", path, err) end
  local size = f:seek("end")
  if max_bytes and size and size > max_bytes then
    f:close()
    util.fail("%s: %d bytes, expected a file of at most %d", path, size, max_bytes)
  end
  f:seek("set")
  local s = f:read("a")
  f:close()
  return s
end

-- Text from outside (paths) made safe inside a C comment: no "*/", no
-- control characters.
function util.c_comment(s)
  return (s:gsub("%*/", "* /"):gsub("[%c]", "?"))
end

-- Text from outside as the body of a C string literal: quotes, backslashes,
-- '?' (trigraphs) and bytes outside printable ASCII escaped in octal.
function util.c_string(s)
  return (s:gsub(".", function(c)
    local b = c:byte()
    if b < 32 or b > 126 or c == '"' or c == "\\" or c == "?" then
      return string.format("\\%03o", b)
    end
  end))
end

-- The folder of a path ("." for a bare file name).
function util.dirname(path) return path:match("^(.*)/[^/]*$") or "." end

-- A name next to path for a temporary file, unique among concurrent timmc
-- processes (the pid) and within this one (a counter): PATH.tmp.PID.N. Lua has
-- no getpid; /proc/self is this process. Elsewhere, a table's address and the
-- clock stand in for it.
local tmp_count = 0
local tmp_tag

function util.temp_path(path)
  if not tmp_tag then
    local f = io.open("/proc/self/stat", "r")
    local pid = f and f:read("l"):match("^(%d+)")
    if f then f:close() end
    tmp_tag = pid or string.format("%s%x", tostring({}):match("0x(%x+)") or "",
                                   math.floor(os.clock() * 1e6))
  end
  tmp_count = tmp_count + 1
  return string.format("%s.tmp.%s.%d", path, tmp_tag, tmp_count)
end

-- Writes through a temporary name and renames into place, so a failure never
-- leaves a half-written file at path, and concurrent writers of one path never
-- share a temporary file.
function util.write_file_atomic(path, content)
  local tmp = util.temp_path(path)
  local f, err = io.open(tmp, "wb")
  if not f then util.fail("%s: cannot write (%s)", path, err) end
  local ok, werr = f:write(content)
  local cok = f:close()
  if not ok or not cok then
    os.remove(tmp)
    util.fail("%s: write failed (%s)", path, tostring(werr))
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    util.fail("%s: cannot rename into place (%s)", path, rerr)
  end
end

function util.join(list, sep, fn)
  local out = {}
  for i, v in ipairs(list) do out[i] = fn and fn(v, i) or tostring(v) end
  return table.concat(out, sep)
end

-- Levenshtein distance, for "did you mean" suggestions.
function util.edit_distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

function util.prod(list)
  local p = 1
  for _, v in ipairs(list) do p = p * v end
  return p
end

return util
