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

M.passes = { "build", table.unpack(driver.passes) }
M.passes[#M.passes + 1] = "emit_c"

-- Validates raw (a decoded spec table) as spec.check does for "test.json" and
-- runs the passes in the driver's order up to and including last_pass
-- (default: all of them). Returns the model IR.
function M.compile_until(raw, last_pass)
  last_pass = last_pass or "emit_c"
  local known = false
  for _, p in ipairs(M.passes) do known = known or p == last_pass end
  assert(known, "compile_until: unknown pass " .. tostring(last_pass))
  local spec, arch = require("spec").check(raw, "test.json")
  local model = require("passes.build")(spec, arch)
  if last_pass == "build" then return model end
  for i = 2, #M.passes do
    local p = M.passes[i]
    if p == "emit_c" then
      local util = require("util")
      local templates = { h = util.read_file(root .. "/templates/model.h.in"),
                          c = util.read_file(root .. "/templates/model.c.in") }
      return require("passes.emit_c").run(model, templates)
    end
    local pass = require("passes." .. p)
    model = (type(pass) == "table" and pass.run or pass)(model)
    if p == last_pass then return model end
  end
  return model
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
