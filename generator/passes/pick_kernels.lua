-- pick_kernels: which layers run timmc's own kernels instead of XNNPACK's
-- operator, by a cost model checked against XNNPACK layer by layer
-- (bench/gemm_layers.sh prints both). Today one kernel, timmc's GEMM
-- (runtime/timmc_gemm.c, AVX-512 CPUs), in three uses: 1x1 and 3x3
-- convolutions, the same in groups of 24 channels, and Winograd's products
-- between timmc_kernel_wino's transforms. The generator
-- does not know the CPU the model will run on, so the choice is a hint: the
-- emitted code takes the kernel where the cost model chose it and the CPU
-- has it, XNNPACK's operator otherwise (and everywhere under
-- TIMMC_GEMM=none). No node changes: the backend's conv emitter asks here.
local pick = {}

pick.MAX_IN = 4096 -- TIMMC_GEMM_MAX_IN in runtime/timmc_rt.h

-- Whether timmc's GEMM computes this conv at all: 1x1 or 3x3, not grouped,
-- any stride, padding and dilation, a clamp or no activation (conv's act is
-- a clamp).
function pick.gemm_applies(node)
  return node.kind == "conv" and (node.k == 1 or node.k == 3) and node.groups == 1 and
         node.cin <= pick.MAX_IN
end

-- The cost model, from bench/gemm_layers.sh and a per-layer microbenchmark
-- on a Zen 4 pair (docs: /issue 14's note; 1 thread, XNNPACK against
-- timmc_gemm on the models' shapes):
-- - both compute at the FMA peak, XNNPACK's 7x16 kernel at about 110-117
--   GFLOP/s a core, timmc's 12x32 at 0.93 of that (100-107);
-- - XNNPACK reads the whole weights again for every 7 output pixels; that
--   costs nothing while they stay in cache (in-model: resnet50's 7x7 1x1
--   layers of 4 MiB, and its strided 1024->2048 of 8 MiB, 0.8-0.9x for
--   timmc's GEMM at 1 and 2 threads), and past 8 MiB each pass costs the rest
--   at ~20 GB/s (10x10 1536->2048: 12 MiB, 15 passes, 2-3x slower than the
--   FMAs allow; 7x7 3x3 512->512: 9 MiB, 1.3-1.6x);
-- - timmc's GEMM takes all pixels in one task row up to 144 of them (then
--   48): the weights come from memory once;
-- - under 64 pixels (7x7 stages), since timmc's GEMM splits a task's rows
--   into even tiles (10, 10, 10, 10 and 9 for 49, not 12 x 4 and 1),
--   XNNPACK takes 1.11-1.24x timmc's time on every such 1x1 layer of
--   resnet50 (bench/gemm_layers.sh, 1 thread: 512 to 2048 channels, weights
--   of 1 to 8 MiB; 1.17x in geometric mean, XNN_FEW); from 64 pixels up
--   the shape classes measure 0.88-1.07x at 1 thread unless the weights
--   spill (docs/speed.md).
--   (Smaller weights, such as densenet121's 7x7 layers, were not measured:
--   they keep the rule above.)
local FLOPS_PER_MS = 2e8 -- 2 threads
local OURS = 0.93
local FEW_PIXELS, FEW_WEIGHTS, XNN_FEW = 64, 2 ^ 20, 1.17
local CACHED = 8 * 2 ^ 20
local BYTES_PER_MS = 2e7
local MARGIN = 0.9

local function ceil_div(a, b) return (a + b - 1) // b end

-- Predicted ms of XNNPACK's convolution and of timmc's GEMM for a node with
-- output shape y.
function pick.gemm_cost(node, y)
  local pixels = y[1] * y[2] * y[3]
  local flops = 2 * pixels * node.cin * node.cout * node.k * node.k
  local weights = 4 * node.cin * node.cout * node.k * node.k
  local spill = math.max(0, weights - CACHED) / BYTES_PER_MS -- one pass past the cache
  local ours_passes = pixels <= 144 and 1 or ceil_div(pixels, 48)
  local ours = flops / (OURS * FLOPS_PER_MS)
  local few = pixels < FEW_PIXELS and weights >= FEW_WEIGHTS
  local xnn = few and XNN_FEW * ours or flops / FLOPS_PER_MS
  return xnn + (ceil_div(pixels, 7) - 1) * spill, ours + (ours_passes - 1) * spill
end

-- Grouped convolutions of 24 output channels a group (regnet's group
-- width), 1x1 or 3x3: timmc_kernel_gemm24's 24-wide panels use every FMA
-- lane where XNNPACK's (and the kernel above) compute 32 for 24.
function pick.gemm24_applies(node)
  local cin_g = node.cin // node.groups
  return node.kind == "conv" and (node.k == 1 or node.k == 3) and node.groups > 1 and
         node.cout // node.groups == 24 and cin_g >= 8 and cin_g <= pick.MAX_IN
end

-- Measured on regnety_032's grouped 3x3 shapes (56x56 g3 to 7x7 g63, stride
-- 1 and 2; 1 thread, microbenchmark): XNNPACK 83-88 GFLOP/s a core, timmc's
-- 24-wide tile 91-97, 1.08-1.11x everywhere but 28x28 g9 (0.98x); at 2
-- threads 1.03-1.11x. As fractions of the 1x1 rate above:
local XNN_GROUPED24 = 0.74
local OURS_GROUPED24 = 0.81

function pick.gemm24_cost(node, y)
  local flops = 2 * y[1] * y[2] * y[3] * node.cout * (node.cin // node.groups) * node.k * node.k
  return flops / (XNN_GROUPED24 * FLOPS_PER_MS), flops / (OURS_GROUPED24 * FLOPS_PER_MS)
end

function pick.gemm24_chosen(node, y)
  if not pick.gemm24_applies(node) then return false end
  local xnn, ours = pick.gemm24_cost(node, y)
  return ours < 0.95 * xnn
end

function pick.gemm_chosen(node, y)
  if not pick.gemm_applies(node) then return false end
  local xnn, ours = pick.gemm_cost(node, y)
  return ours < MARGIN * xnn
end

-- Winograd's products (a wino_conv node: 36 x groups matrix products of the
-- block's tiles x in channels by in x out channels): timmc's GEMM takes
-- each product's rows in one task of up to 48, every weight once, where
-- XNNPACK's 7-row tiles read a product's weights again for every 7 tiles.
-- Measured in-model (bench/gemm_layers.sh, both ways): at 16 tiles timmc's
-- GEMM is 1.24-1.54x faster at 1 thread and 1.40x at 2 (resnet50's 14x14
-- layers of 256 channels; resnest26d's in 2 groups 1.21x and 1.31x at 2
-- threads); at 49 tiles 0.87-0.95x and 1.01x; at 196, 0.77-0.91x at 1
-- thread but 1.19x at 2. Up to 48 tiles it wins at both thread counts.
pick.WINO_ROWS = 48

function pick.wino_products_applies(node)
  return node.kind == "wino_conv" and node.cin // node.groups <= pick.MAX_IN
end

function pick.wino_products_chosen(node)
  return pick.wino_products_applies(node) and node.block <= pick.WINO_ROWS
end

-- Depthwise convolutions (one filter a channel), 3x3 or 5x5, stride 1 or 2,
-- no dilation: timmc_kernel_dwconv (runtime/timmc_dw.c) keeps a channel
-- vector's weights in registers across eight output pixels, where XNNPACK's
-- kernel reads all the weights again for each pixel.
function pick.dw_applies(node)
  return node.kind == "conv" and node.groups == node.cin and node.cout == node.cin and
         (node.k == 3 or node.k == 5) and (node.stride == 1 or node.stride == 2) and
         node.dilation == 1
end

-- Measured in-model against XNNPACK (bench/dw_layers.sh, Zen 4, 1 and 2
-- threads; docs/speed.md): 1.3-2.1x a model on the 3x3 stride-1 and the 5x5
-- layers of mobilenetv2_100, mobilenetv3_large_100, efficientnet_b0,
-- mobilenetv4_conv_small, ese_vovnet19b_dw and xception41 (up to 3x a layer),
-- from 7x7 to 112x112 and up to 1536 channels (xception41's 19x19x728 middle
-- flow 1.55-2.28x). Two kinds stay with XNNPACK:
-- - 3x3 at stride 2, whose eight outputs read 17 columns where stride 1
--   reads 10: no gain to take (0.74-1.56x a layer, about even in the median
--   of the six models' 14 layers at 1 and at 2 threads);
-- - large images, where both kernels wait on memory: xception41's
--   150x150x64-128 and 75x75x128-256 at stride 1, 0.73-0.98x at 1 thread. The
--   rule: over 2.5 MiB and 1600 pixels (38x38x728, 4 MiB, measured 1.29-1.38x).
-- Pixel strides a multiple of 2 KiB (512 or 1024 channels, or concat slices)
-- lost in a microbenchmark with warm caches (L1 set conflicts, 0.73-0.97x) but
-- not in the models (xception41's 10x10x1024 1.09-1.24x, mobilenetv4's 7x7x512
-- 1.14-2.12x, ese_vovnet's slices 2 KiB apart 1.62-1.91x): no rule.
local DW_PIXELS = 1600
local DW_BYTES = 2.5 * 2 ^ 20

-- x: the input tensor (its shape [n, h, w, c])
function pick.dw_chosen(node, x)
  local pixels = x.shape[2] * x.shape[3]
  return pick.dw_applies(node) and not (node.k == 3 and node.stride == 2) and
         (pixels <= DW_PIXELS or 4 * pixels * x.shape[4] <= DW_BYTES)
end

return pick
