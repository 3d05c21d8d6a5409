-- spec.lua: reads and rewrites timmc specs for the scripts (bench, demo, tests).
--   lua5.4 tools/spec.lua get SPEC.json KEY           prints the key's value
--   lua5.4 tools/spec.lua set SPEC.json KEY=VALUE...  prints the spec with those
--                                                     string keys set
local cjson = require("cjson")

local cmd, path = arg[1], arg[2]
local f = path and io.open(path, "rb")
if not (cmd == "get" or cmd == "set") or not f then
  io.stderr:write("usage: spec.lua get SPEC.json KEY | set SPEC.json KEY=VALUE...\n")
  os.exit(2)
end
local spec = cjson.decode(f:read("a"))
f:close()
if cmd == "get" then
  print(spec[arg[3]])
else
  for i = 3, #arg do
    local k, v = arg[i]:match("^([%w_]+)=(.*)$")
    if not k then
      io.stderr:write("spec.lua: expected KEY=VALUE, got '" .. arg[i] .. "'\n")
      os.exit(2)
    end
    spec[k] = v
  end
  print(cjson.encode(spec))
end
