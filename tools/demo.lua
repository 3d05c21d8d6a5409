-- demo.lua RUNNER SPEC PICTURES IMAGE...: runs the model once on the images
-- (one per batch item; random inputs fill the rest) with random weights,
-- prints what timm's feature-extraction page prints, and writes a picture of
-- each feature level into PICTURES.
local cjson = require("cjson")
local runner, spec_path, pictures = arg[1], arg[2], arg[3]
local images = { table.unpack(arg, 4) }
local spec = cjson.decode(io.open(spec_path):read("a"))

local function ints(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = string.format("%d", v) end
  return out
end

local args = { "'" .. spec.architecture .. "'" }
for _, k in ipairs({ "features_only", "out_indices", "output_stride", "num_classes",
                     "global_pool" }) do
  local v = spec[k]
  if type(v) == "table" then v = "(" .. table.concat(ints(v), ", ") .. ")"
  elseif type(v) == "string" then v = "'" .. v .. "'"
  elseif type(v) == "boolean" then v = v and "True" or "False"
  elseif v ~= nil then v = string.format("%d", v) end
  if v ~= nil then args[#args + 1] = k .. "=" .. v end
end
print(">>> m = timm.create_model(" .. table.concat(args, ", ") .. ")")

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local info = cjson.decode(io.popen(runner .. " --info"):read("a"))
print(string.format(">>> o = m(torch.randn(%s))", table.concat(ints(info.input), ", ")))
local p = io.popen(string.format("%s --random-weights 0 --bench 3 --threads 2", runner))
local bench = p:read("a")
p:close()
print(">>> for x in o: print(x.shape)")
for _, o in ipairs(info.outputs) do
  print("torch.Size([" .. table.concat(ints(o.shape), ", ") .. "])")
end
local ch, red, mod = {}, {}, {}
for i, o in ipairs(info.outputs) do
  ch[i], red[i], mod[i] = string.format("%d", o.num_chs), string.format("%d", o.reduction),
                          "'" .. o.module .. "'"
end
print(">>> m.feature_info.channels()\n[" .. table.concat(ch, ", ") .. "]")
print(">>> m.feature_info.reduction()\n[" .. table.concat(red, ", ") .. "]")
print(">>> m.feature_info.module_name()\n[" .. table.concat(mod, ", ") .. "]")
local run = { runner, "--random-weights 0", "--save-png", q(pictures) }
for i = 1, info.input[1] do run[#run + 1] = "--image " .. q(images[(i - 1) % #images + 1]) end
local p2 = io.popen(table.concat(run, " ") .. " 2>&1")
local said = p2:read("a")
if not p2:close() then error("the runner failed on the images: " .. said) end
print(string.format("\n%s from %s (random weights: with a timm checkpoint, --weights " ..
                    "model.safetensors)", said:gsub("\n$", ""), table.concat(images, ", ")))
print(string.format("timmc: arena %.1f MiB (lower bound %.1f MiB), weights %.1f MiB, " ..
                    "forward %s ms median on 2 threads",
                    info.arena_bytes / 2 ^ 20, info.arena_lower_bound_bytes / 2 ^ 20,
                    info.weights_bytes / 2 ^ 20, bench:match("median_ms: ([%d.]+)") or "?"))
