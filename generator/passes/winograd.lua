-- winograd: runs a 3x3 stride-1 convolution as Winograd F(4x4, 3x3) where that
-- is faster (runtime/timmc_wino.c explains the algorithm): the conv node
-- becomes a wino_conv node, which transforms blocks of tiles into a buffer,
-- has XNNPACK's grouped 1x1 convolution take the products (36 per group) into
-- another, and transforms those back to pixels with bias and ReLU. The two
-- buffers are node.work, arena tensors the memory plan keeps for that node
-- alone. The spec's "winograd" key: "auto" (the default) where the cost model
-- below predicts it faster, "always" wherever it applies, "never" not at all.
local ir = require("ir")

local winograd = {}

winograd.TILE = 4 -- outputs per tile side
winograd.POSITIONS = 36 -- (TILE + 2)^2 products per tile

-- The cost model, calibrated with XNNPACK on 2 threads of a Zen 4 core pair
-- (direct convolutions near 200 GFLOP/s; the FMA units peak at 230) and
-- checked layer by layer in-model (--profile) on resnet50, densenet121,
-- xception41 and regnety_032 at batch 1 and 2:
-- - XNNPACK's GEMMs run at 200 GFLOP/s, in tasks of 7 rows of one group that
--   cost 50 ns each besides: what makes narrow groups slow (regnety's groups
--   of 24 channels: Winograd's 36 x groups small GEMMs won at 28x28 and lost
--   at 14x14, as predicted);
-- - the products over T tiles run at T / (T + 8) of that (few tiles waste
--   most of XNNPACK's 7-row GEMM tiles), and, unless they go through in
--   blocks (below), no faster than their tile buffers stream at 30 GB/s;
-- - the two transforms cost 5 ns per tile and channel, in and out.
-- Winograd is taken when it is predicted to take at most 0.8 of the direct
-- time: at 224 that is every 3x3 of resnet50 down to 14x14 but not its 7x7
-- ones (predicted no faster, as 4 tiles fill few GEMM rows; measured
-- 1.07-1.3x in-model, for 4x the weights), and
-- the wide-image, few-channel stems in blocks (xception41's 150x150 32->64:
-- 3.8 ms direct, 2.2 ms in-model).
local FLOPS_PER_MS = 2e8
local BYTES_PER_MS = 3e7
local TRANSFORM_MS = 5e-6
local TASK_MS = 5e-5
local GEMM_ROWS = 7
local MARGIN = 0.8
-- Groups narrower than this stay direct under "auto": regnety_032's groups of
-- 24 channels make Winograd 36 x groups products of 24 x 24, which no GEMM
-- runs at rate. Measured in-model (bench/wino_layers.sh, Zen 4), Winograd
-- over direct from 56x56 to 28x28: 0.60-0.66x at 1 thread and 0.62-0.88x at
-- 2 against timmc's 24-wide direct kernel, 0.89-1.01x and 0.81-0.94x against
-- XNNPACK's direct grouped convolution (TIMMC_GEMM=none); at 14x14 0.42-0.56x.
-- resnest26d's 2 groups of 64 channels and more win (docs/speed.md).
local NARROW_GROUP = 64

local function ceil_div(a, b) return (a + b - 1) // b end

local function tiles_along(n, d)
  return d * ceil_div(ceil_div(n, d), winograd.TILE)
end

function winograd.tiles(shape, d)
  return shape[1] * tiles_along(shape[2], d) * tiles_along(shape[3], d)
end

-- Tiles per block. All of them at once keeps the products one large GEMM,
-- which is best unless the tile buffers are large (over 4 MiB) next to the
-- packed weights the GEMM reads again for every block (under a twelfth of the
-- buffers): then blocks of about 1 MiB of buffers, which stay in cache. Both
-- measured with caches flushed between runs, 2 threads (a 160x160 32->32
-- layer: 2.6-3.4 ms at once, 1.6-1.8 ms in blocks of 128, 2.1 ms direct;
-- 40x40 512->512 at dilation 4: 15-17 ms at once, 17-20 ms in blocks of 48).
local BLOCK_BYTES = 1 << 20
local MIN_BLOCK = 16

function winograd.block(node, t)
  local per_tile = 4 * winograd.POSITIONS * (node.cin + node.cout)
  local weights = 4 * winograd.POSITIONS * (node.cin // node.groups) * node.cout
  if per_tile * t <= 4 * BLOCK_BYTES or 12 * weights >= per_tile * t then return t end
  return math.min(t, math.max(MIN_BLOCK, BLOCK_BYTES // per_tile))
end

-- Predicted milliseconds of both ways for a conv node with output shape y.
function winograd.cost(node, y)
  local d = node.dilation
  local macs_per_group = node.cout // node.groups * (node.cin // node.groups)
  local pixels = y[1] * y[2] * y[3]
  local direct = 2 * 9 * pixels * macs_per_group * node.groups / FLOPS_PER_MS +
                 TASK_MS * node.groups * ceil_div(pixels, GEMM_ROWS)
  local t = winograd.tiles(y, d)
  local products = winograd.POSITIONS * node.groups -- GEMMs
  local compute = 2 * (t + 8) * macs_per_group * products / FLOPS_PER_MS +
                  TASK_MS * products * ceil_div(t, GEMM_ROWS)
  -- tiles that go through in blocks stay in cache: no stream bound
  local stream = 0
  if winograd.block(node, t) == t then
    stream = 4 * winograd.POSITIONS * t * (node.cin + node.cout) / BYTES_PER_MS
  end
  local wino = math.max(compute, stream) + TRANSFORM_MS * t * (node.cin + node.cout)
  return direct, wino
end

function winograd.applies(node, y, mode)
  -- depthwise convs have no products over channels to save: they stay direct
  if node.kind ~= "conv" or node.k ~= 3 or node.stride ~= 1 or node.cin == node.groups then
    return false
  end
  -- the output transform clamps at 0 (relu) or not at all (timmc_kernel_wino)
  if node.act and node.act ~= "relu" then return false end
  local d = node.dilation
  for _, p in ipairs(node.pad) do
    if p ~= d then return false end
  end
  if mode == "always" then return true end
  if node.groups > 1 and node.cin // node.groups < NARROW_GROUP then return false end
  local direct, wino = winograd.cost(node, y)
  return wino < MARGIN * direct
end

-- Makes a wino_conv node the direct conv it came from (its scratch tensors
-- stay in model.tensors, read by nothing).
function winograd.revert(node)
  node.kind, node.tiles, node.block, node.work = "conv", nil, nil, nil
end

-- What fit_arena may take back to fit max_arena_bytes: the layers "auto"
-- chose (not "always"), and the bytes of their tile buffers as planned.
function winograd.fallback(node, model)
  if model.spec.winograd ~= "auto" then return nil end
  return model.tensors[node.work[1]].bytes + model.tensors[node.work[2]].bytes
end

function winograd.run(model)
  local mode = model.spec.winograd
  if mode == "never" then return model end
  local T = model.tensors
  for _, node in ipairs(model.nodes) do
    local y = T[node.output]
    -- an int8 convolution (quantize) has no Winograd form: it stays direct
    if y.dtype == "f32" and winograd.applies(node, y.shape, mode) then
      local t = winograd.tiles(y.shape, node.dilation)
      local block = winograd.block(node, t)
      local function work(what, c) -- [block][36][c], as block pixels of 36 c channels
        local id = ir.new_tensor(model, node.name .. " (" .. what .. ")", winograd.POSITIONS * c)
        T[id].shape = { 1, block, 1, winograd.POSITIONS * c }
        return id
      end
      -- the conv keeps its attributes and gains Winograd's (revert undoes it)
      node.kind, node.tiles, node.block = "wino_conv", t, block
      node.work = { work("winograd tiles", node.cin), work("winograd products", node.cout) }
    end
  end
  return model
end

return winograd
