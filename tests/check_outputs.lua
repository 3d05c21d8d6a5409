-- check_outputs.lua RUNNER WORKDIR EXPECTED.json [ENTRY [info]]
-- The runner's --info outputs for ENTRY (default forward) must equal those in
-- EXPECTED.json (module, num_chs,
-- reduction, shape of each output, in order); then a forward on a random input
-- with random weights must write out<i>.npy files of exactly those shapes.
-- With "info", the check stops before the forward (under emulation, where a
-- full-size forward can take many minutes).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lua/?.lua;" .. package.path
local cjson = require("cjson")
local files = require("files")
local runner, work, expected_path = arg[1], arg[2], arg[3]
local entry = arg[4] or "forward"
local info_only = arg[5] == "info"
local expected = cjson.decode(assert(io.open(expected_path)):read("a"))
local failures = 0

local function fail(fmt, ...)
  io.stderr:write(string.format(fmt, ...), "\n")
  failures = failures + 1
end

local p = assert(io.popen(runner .. " --info --entry " .. entry))
local info = cjson.decode(p:read("a"))
p:close()
if #info.outputs ~= #expected then fail("%d outputs, expected %d", #info.outputs, #expected) end
for i, e in ipairs(expected) do
  local o = info.outputs[i] or {}
  for _, k in ipairs({ "module", "num_chs", "reduction" }) do
    if o[k] ~= e[k] then fail("output %d: %s is %s, expected %s", i - 1, k, tostring(o[k]), e[k]) end
  end
  if cjson.encode(o.shape) ~= cjson.encode(e.shape) then
    fail("output %d: shape %s, expected %s", i - 1, cjson.encode(o.shape), cjson.encode(e.shape))
  end
end
local ratio = info.arena_bytes / info.arena_lower_bound_bytes
print(string.format("%s: arena %d bytes, lower bound %d (%.3fx)", info.name, info.arena_bytes,
                    info.arena_lower_bound_bytes, ratio))
if ratio > 1.10 then fail("arena is %.3f x its lower bound, over the 1.10 target", ratio) end
if info_only then
  if failures > 0 then os.exit(1) end
  print(string.format("%s: --info's %d outputs as expected (no forward)", info.name, #expected))
  os.exit(0)
end

-- a real forward: input written as .npy, outputs' .npy headers read back
os.execute("rm -rf '" .. work .. "' && mkdir -p '" .. work .. "'")
local shape = info.input
local count = shape[1] * shape[2] * shape[3] * shape[4]
local f = assert(io.open(work .. "/in.npy", "wb"))
f:write(files.npy_header(files.npy_dict("<f4", shape)))
local chunk = string.rep(string.pack("<f", 0.5), 4096)
for _ = 1, count // 4096 do f:write(chunk) end
f:write(string.rep(string.pack("<f", 0.5), count % 4096))
f:close()
local ok = os.execute(string.format("%s --random-weights 1 --entry %s --input %s/in.npy " ..
                                    "--outdir %s/out", runner, entry, work, work))
if not ok then fail("forward failed") end
for i, e in ipairs(expected) do
  local g = io.open(string.format("%s/out/out%d.npy", work, i - 1), "rb")
  if not g then
    fail("out%d.npy missing", i - 1)
  else
    local head = g:read(128)
    g:close()
    local dims = head:match("'shape': %(([%d, ]*)%)")
    local want = {}
    for k, d in ipairs(e.shape) do want[k] = string.format("%d", d) end
    want = table.concat(want, ", ")
    if not dims or dims:gsub(",%s*$", "") ~= want then
      fail("out%d.npy shape (%s), expected (%s)", i - 1, tostring(dims), want)
    end
  end
end
if failures > 0 then os.exit(1) end
print(string.format("%s: %d outputs as expected", info.name, #expected))
