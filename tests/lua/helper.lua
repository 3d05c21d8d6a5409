-- helper.lua: busted helper for the generator's unit tests.
--   busted            (at the project root; .busted picks Lua 5.4 and this helper)
-- Puts generator/, models/ and tests/lua/ on package.path, points the driver
-- at the project root, and offers compile_until to the specs through
-- `local helper = require("helper")`.
if package.loaded["helper"] then return package.loaded["helper"] end

local function abs_dir(dir)
  local p = io.popen("cd '" .. dir:gsub("'", "'\\''") .. "' && pwd")
  local out = p:read("l")
  p:close()
  return out
end

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local root = abs_dir(here .. "/../..")
package.path = table.concat({ root .. "/generator/?.lua", root .. "/models/?.lua",
                              root .. "/tests/lua/?.lua", package.path }, ";")

local driver = require("driver")
driver.root = root

local M = { root = root }

-- Validates raw (a decoded spec table) as spec.check does for "test.json" and
-- runs the driver's own pipeline up to and including last_pass (default: all
-- of it), checking the IR (ir.check) after every pass. Returns the model IR.
function M.compile_until(raw, last_pass)
  local spec, arch = require("spec").check(raw, "test.json")
  return driver.pipeline(spec, arch, { stop_after = last_pass, check = true })
end

-- A raw spec for architecture arch named "net", with extra keys.
function M.spec(arch, extra)
  local raw = { name = "net", architecture = arch }
  for k, v in pairs(extra or {}) do raw[k] = v end
  return raw
end

-- The first node named name, of the given kind if kind is given, and its
-- index (nil if none).
function M.node(model, name, kind)
  for i, n in ipairs(model.nodes) do
    if n.name == name and (kind == nil or n.kind == kind) then return n, i end
  end
  return nil
end

-- The state_dict entry named name (nil if none).
function M.param(model, name)
  for _, p in ipairs(model.state_dict) do
    if p.name == name then return p end
  end
  return nil
end

-- The tensor of feature_info level module ("layer1" ...).
function M.feature(model, module)
  for _, f in ipairs(model.features) do
    if f.module == module then return model.tensors[f.tensor] end
  end
  return nil
end

-- Calls fn(...) and returns the error it raised (nil when it raised none).
function M.error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then return nil end
  return err
end

package.loaded["helper"] = M
return M
