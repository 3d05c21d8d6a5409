-- winograd: runs a 3x3 stride-1 convolution as Winograd F(4x4, 3x3) where that
-- is faster (runtime/timmc_wino.c explains the algorithm). The conv node
-- becomes three: wino_in (input -> transformed tiles), wino_gemm (XNNPACK's
-- grouped 1x1 convolution over the tiles: 36 products per group), wino_out
-- (back to pixels, with bias and ReLU), and two tensors between them that the
-- memory plan places like any other. The spec's "winograd" key: "auto" (the
-- default) where the cost model below predicts it faster, "always" wherever it
-- applies, "never" not at all.
local ir = require("ir")

local winograd = {}

winograd.TILE = 4 -- outputs per tile side
winograd.POSITIONS = 36 -- (TILE + 2)^2 products per tile

-- The cost model, calibrated with XNNPACK on 2 threads of a Zen 4 core pair
-- (direct convolutions near 200 GFLOP/s; the FMA units peak at 230):
-- - the products over T tiles run at T / (T + 8) of the direct convolution's
--   speed (XNNPACK's GEMM tiles are 7 rows high: few tiles waste most of it),
--   and no faster than their tile buffers stream from memory at 10 GB/s
--   (what a 160x160 32->32 layer, 15 MB of tiles, measured);
-- - the two transforms cost 10 ns per tile and channel, in and out.
-- Winograd is taken when it is predicted 20% faster: at 224 that is every 3x3
-- of resnet50 down to 14x14 but not its 7x7 ones, and not the wide-image,
-- few-channel stems (xception41's 150x150 32->64 measured slower).
local FLOPS_PER_MS = 2e8
local BYTES_PER_MS = 1e7
local TRANSFORM_MS = 1e-5
local MARGIN = 0.8

local function tiles_along(n, d)
  return d * ((((n + d - 1) // d) + winograd.TILE - 1) // winograd.TILE)
end

function winograd.tiles(shape, d)
  return shape[1] * tiles_along(shape[2], d) * tiles_along(shape[3], d)
end

-- Predicted milliseconds of both ways for a conv node with output shape y.
function winograd.cost(node, y)
  local d = node.dilation
  local macs_per_group = node.cout // node.groups * (node.cin // node.groups)
  local direct = 2 * 9 * y[1] * y[2] * y[3] * macs_per_group * node.groups / FLOPS_PER_MS
  local t = winograd.tiles(y, d)
  local compute = 2 * winograd.POSITIONS * (t + 8) * macs_per_group * node.groups / FLOPS_PER_MS
  local stream = 4 * winograd.POSITIONS * t * (node.cin + node.cout) / BYTES_PER_MS
  local wino = math.max(compute, stream) + TRANSFORM_MS * t * (node.cin + node.cout)
  return direct, wino
end

function winograd.applies(node, y, mode)
  -- depthwise convs have no products over channels to save: they stay direct
  if node.kind ~= "conv" or node.k ~= 3 or node.stride ~= 1 or node.cin == node.groups then
    return false
  end
  local d = node.dilation
  for _, p in ipairs(node.pad) do
    if p ~= d then return false end
  end
  if mode == "always" then return true end
  local direct, wino = winograd.cost(node, y)
  return wino < MARGIN * direct
end

function winograd.run(model)
  local mode = model.spec.winograd
  if mode == "never" then return model end
  local T = model.tensors
  local nodes = {}
  for _, node in ipairs(model.nodes) do
    local y = T[node.output]
    if winograd.applies(node, y.shape, mode) then
      local x = T[node.inputs[1]]
      local t = winograd.tiles(y.shape, node.dilation)
      local function scratch(what, c) -- [tiles][36][c], as t pixels of 36 c channels
        local id = ir.new_tensor(model, node.name .. " (" .. what .. ")", winograd.POSITIONS * c)
        T[id].shape, T[id].flat = { 1, t, 1, winograd.POSITIONS * c }, false
        return id
      end
      local v, m = scratch("winograd tiles", x.c), scratch("winograd products", node.cout)
      local shared = {} -- the gemm's emitter leaves the bias's place here for wino_out
      nodes[#nodes + 1] = { kind = "wino_in", name = node.name, inputs = node.inputs, output = v,
                            dilation = node.dilation, tiles = t }
      nodes[#nodes + 1] = {
        kind = "wino_gemm", name = node.name, inputs = { v }, output = m, weight = node.weight,
        bias = node.bias, bn = node.bn, bn_eps = node.bn_eps, cin = node.cin, cout = node.cout,
        groups = node.groups, dilation = node.dilation, tiles = t, shared = shared }
      nodes[#nodes + 1] = { kind = "wino_out", name = node.name, inputs = { m },
                            output = node.output, dilation = node.dilation, act = node.act,
                            tiles = t, shared = shared }
    else
      nodes[#nodes + 1] = node
    end
  end
  model.nodes = nodes
  return model
end

return winograd
