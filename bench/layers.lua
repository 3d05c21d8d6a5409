-- layers.lua SPEC.json: one line per node of the compiled model, in the
-- runner's step names: "module class flops", where class is the kind of work
-- bench/profile.sh sums time and FLOP/s by (pointwise 1x1, depthwise,
-- dense 3x3, strided, first conv, Winograd, pools, elementwise...).
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local root = here .. "/.."
package.path = table.concat({ root .. "/generator/?.lua", root .. "/models/?.lua",
                              package.path }, ";")
local driver = require("driver")
local spec_mod = require("spec")
local ops = require("ops")
driver.root = root

local spec, arch = spec_mod.load(arg[1])
local model = driver.pipeline(spec, arch, { stop_after = "fit_arena" })
local T = model.tensors

local function class(node, x)
  local k = node.kind
  if k == "conv" or k == "wino_conv" or k == "pw_gemm" then
    local dw = node.groups == node.cin and node.groups > 1
    local tag
    if x[4] <= 4 then tag = "first conv"
    elseif dw then tag = "depthwise " .. node.k .. "x" .. node.k
    elseif node.k == 1 then tag = "pointwise 1x1"
    elseif node.groups > 1 then tag = "grouped " .. node.k .. "x" .. node.k
    else tag = "dense " .. node.k .. "x" .. node.k end
    if node.stride > 1 then tag = tag .. " s" .. node.stride end
    if k == "wino_conv" then tag = tag .. " winograd" end
    if k == "pw_gemm" then tag = tag .. " timmc gemm" end
    return tag
  end
  if k == "maxpool" or k == "avgpool" or k == "global_pool" then return "pools" end
  if k == "add" or k == "scale" or k == "mul_const" or k == "act" or k == "bn_act" then
    return "elementwise"
  end
  return k
end

for _, node in ipairs(model.nodes) do
  local x, y = T[node.inputs[1]].shape, T[node.output].shape
  if x and y then
    print(string.format("%s\t%s\t%.0f", node.name, class(node, x), ops.flops(node, x, y) or 0))
  end
end
