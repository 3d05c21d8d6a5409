-- backends/xnnpack_int8.lua: the int8 forms of the XNNPACK backend's node
-- kinds (spec "precision": "int8", the quantize pass; docs/int8.md).
-- Convolutions run as XNNPACK's qc8 operator (per-channel int8 weights),
-- adds and gating products as qs8, pooling as qs8 / s8; an activation or a
-- product with a constant as a 256-entry table (timmc_kernel_lut8), which
-- makes any function of one int8 value exact to its rounding; quantize and
-- dequantize as XNNPACK's conversions.
--
-- Every int8 tensor's scale and zero point is qp[i] in the model's C, read at
-- init from the checkpoint's "KEY.act_range" (timmc_load_qparams). What the
-- runner needs to calibrate (the keys, and the float layers behind each int8
-- convolution) is the model's quant_info.
local util = require("util")

local int8 = {}

local tables = require("backends.int8_tables")
local qclamp = tables.qclamp

local function setup(h, node, ctx, kind, args)
  local full = { h.opv(ctx) }
  for _, a in ipairs(args) do full[#full + 1] = a end
  full[#full + 1] = "threadpool"
  return h.call("xnn_setup_" .. kind, full) .. h.check(node, "setup")
end

local function create(h, node, ctx, kind, args)
  args[#args + 1] = { "flags", 0 }
  args[#args + 1] = h.op(ctx)
  return h.call("xnn_create_" .. kind, args) .. h.check(node, "create")
end

-- An "nc" operator over pixels: conversions and copies.
local function nc(h, node, ctx, kind, extra, x, y)
  local args = { { "channels", x.shape[4] }, { "input_stride", x.stride },
                 { "output_stride", y.stride } }
  for _, a in ipairs(extra) do args[#args + 1] = a end
  return create(h, node, ctx, kind, args) ..
    setup(h, node, ctx, kind, { { "batch_size", x.shape[1] * x.shape[2] * x.shape[3] },
                                { "input", x.ptr }, { "output", y.ptr } })
end

local emit = {}

function emit.quantize(h, node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local q = ctx.qp(node.output)
  return nc(h, node, ctx, "convert_nc_f32_qs8", { { "output_scale", q.scale },
            { "output_zero_point", q.zp }, { "output_min", -128 }, { "output_max", 127 } }, x, y)
end

function emit.dequantize(h, node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local q = ctx.qp(node.inputs[1])
  return nc(h, node, ctx, "convert_nc_qs8_f32", { { "input_scale", q.scale },
            { "input_zero_point", q.zp } }, x, y)
end

function emit.copy(h, node, ctx)
  return nc(h, node, ctx, "copy_nc_x8", {}, ctx.at(node.inputs[1]), ctx.at(node.output))
end

-- timmc's int8 GEMM (runtime/timmc_qgemm.c, AVX512-VNNI) instead of
-- XNNPACK's qc8 convolution: any ungrouped convolution whose kernel x
-- kernel x input channels (rounded up to 4) fit TIMMC_QGEMM_MAX_K; the same
-- bits either way (tests/qgemm_test.c).
local QGEMM_MAX_K = 18432

local function round_up(n, m) return (n + m - 1) // m * m end

local function qgemm_applies(node)
  return node.groups == 1 and node.k * node.k * round_up(node.cin, 4) <= QGEMM_MAX_K
end

-- The cost model, in picoseconds on one core, fitted to tests/qgemm_test.c
-- --bench (each layer alone, XNNPACK and timmc's kernel run by run in turn)
-- on an AMD EPYC Zen 5:
-- - XNNPACK's qc8 GEMM (AVX-512 without VNNI: 4 pixels x 16 channels a
--   tile, input channels 8 at a time): 12.8 ps a product, 240 ps an output
--   (requantization);
-- - timmc's (vpdpbusd: 6 pixels x 64 channels, input channels 4 at a time):
--   4.7 ps a product, 93 ps an output, 3.6 ns a pixel, and 1 ns a pixel and
--   tap more where it copies its input (im2col: every conv but a 1x1 one of
--   whole groups of 4 channels and no padding);
-- both with the output channels rounded up to 16. On every int8
-- convolution of resnet50 and mobilenetv3_large_100 timmc's is 1.5x
-- (mobilenetv3's first 16 -> 16 pointwise conv at 112x112) to 3x faster, 1
-- and 2 threads; by the model, XNNPACK's wins only with fewer products an
-- output still (8 -> 8 channels).
local XNN_MAC, XNN_OUT = 12.8, 240
local OURS_MAC, OURS_OUT, OURS_PIXEL, OURS_COPY = 4.7, 93, 3600, 1000

-- Predicted picoseconds of XNNPACK's convolution and of timmc's kernel for
-- a node with output shape y.
function int8.qgemm_cost(node, y)
  local pixels = y[1] * y[2] * y[3]
  local outs, kk = pixels * round_up(node.cout, 16), node.k * node.k
  local in_place = node.k == 1 and node.cin % 4 == 0 and node.pad[1] == 0 and node.pad[4] == 0
  return outs * (kk * round_up(node.cin, 8) * XNN_MAC + XNN_OUT),
         outs * (kk * round_up(node.cin, 4) * OURS_MAC + OURS_OUT) +
           pixels * (OURS_PIXEL + (in_place and 0 or kk * OURS_COPY))
end

function int8.qgemm_chosen(node, y)
  if not qgemm_applies(node) then return false end
  local xnn, ours = int8.qgemm_cost(node, y)
  return ours < xnn
end

function emit.conv(h, node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local qx, qy = ctx.qp(node.inputs[1]), ctx.qp(node.output)
  local cin_g, cout_g = node.cin // node.groups, node.cout // node.groups
  local min, max = qclamp(node.act, qy)
  local p = node.pad
  tables.add_conv(ctx, node)
  local load = string.format("  TIMMC_TRY(timmc_load_conv_qc8(w, st, %q, /*out_channels=*/%d, " ..
                             "/*group_input_channels=*/%d,\n      /*kernel=*/%d, %s));\n",
                             node.weight, node.cout, cin_g, node.k, qx.scale)
  local xnn = create(h, node, ctx, "convolution2d_nhwc_qc8", {
      { "input_padding_top", p[1] }, { "input_padding_right", p[2] },
      { "input_padding_bottom", p[3] }, { "input_padding_left", p[4] },
      { "kernel_height", node.k }, { "kernel_width", node.k },
      { "subsampling_height", node.stride }, { "subsampling_width", node.stride },
      { "dilation_height", node.dilation }, { "dilation_width", node.dilation },
      { "groups", node.groups }, { "group_input_channels", cin_g },
      { "group_output_channels", cout_g }, { "input_channel_stride", x.stride },
      { "output_channel_stride", y.stride }, { "input_zero_point", qx.zp },
      { "input_scale", qx.scale }, "w->qs", "w->qk", "w->qb", { "output_zero_point", qy.zp },
      { "output_scale", qy.scale }, { "output_min", min }, { "output_max", max } }) ..
    setup(h, node, ctx, "convolution2d_nhwc_qc8", {
      { "batch_size", x.shape[1] }, { "input_height", x.shape[2] },
      { "input_width", x.shape[3] }, { "input", x.ptr }, { "output", y.ptr } })
  if not qgemm_applies(node) then return load .. xnn end
  -- timmc's int8 GEMM where it is built and the CPU has VNNI, its packed
  -- weights in static storage; XNNPACK's operator elsewhere
  ctx.qgemm = true
  local qgemm = {
    "#if TIMMC_QGEMM_BUILT",
    "  if (timmc_qgemm_use(/*chosen=*/%d)) {",
    "    static unsigned char packed[%d] __attribute__((aligned(64)));",
    "    TIMMC_TRY(timmc_qgemm_pack(w, /*out_channels=*/%d, /*in_channels=*/%d, /*kernel=*/%d,",
    "        /*pad_top=*/%d, /*pad_left=*/%d, /*dilation=*/%d, %s, %s,",
    "        /*out_min=*/%s, /*out_max=*/%s, packed, sizeof packed));",
    "    ops[%d] = (timmc_op){.kernel = timmc_kernel_qgemm, .a = (const float *)%s,",
    "        .b = (const float *)(const void *)packed, .y = (float *)%s,",
    "        .dims = {/*batch=*/%d, /*height=*/%d, /*width=*/%d, /*in_channels=*/%d, " ..
    "/*out_channels=*/%d,",
    "                 /*in_stride=*/%d, /*out_stride=*/%d, /*stride=*/%d, /*in_height=*/%d, " ..
    "/*in_width=*/%d}};",
    "  } else\n#endif\n  {\n" }
  local bytes = 64 + round_up(node.cout, 16) * (8 + node.k * node.k * round_up(node.cin, 4))
  return load ..
    string.format(table.concat(qgemm, "\n"), int8.qgemm_chosen(node, y.shape) and 1 or 0, bytes,
                  node.cout, node.cin, node.k, p[1], p[4], node.dilation, qx.ref, qy.ref, min, max,
                  ctx.op, x.ptr, y.ptr, y.shape[1], y.shape[2], y.shape[3], node.cin, node.cout,
                  x.stride, y.stride, node.stride, x.shape[2], x.shape[3]) ..
    h.indent(xnn) .. "  }\n"
end

-- a linear layer (a pooled vector in, one out) as a 1x1 convolution of N
-- pixels; BatchNorm and a hard_sigmoid gate folded (timmc_load_linear)
function emit.linear(h, node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local qx, qy = ctx.qp(node.inputs[1]), ctx.qp(node.output)
  local min, max = qclamp(node.act, qy)
  if node.gate then -- hard_sigmoid folded: clamp to [0, 1]
    min = string.format("timmc_quantize_one(0.0, %s)", qy.ref)
    max = string.format("timmc_quantize_one(1.0, %s)", qy.ref)
  end
  tables.add_conv(ctx, node)
  return string.format("  TIMMC_TRY(timmc_load_linear_qc8(w, st, %q, /*out_features=*/%d, " ..
                       "/*in_features=*/%d,\n      /*weight_ndim=*/%d, %s));\n", node.weight,
                       node.cout, node.cin, node.weight_ndim, qx.scale) ..
    create(h, node, ctx, "convolution2d_nhwc_qc8", {
      { "input_padding_top", 0 }, { "input_padding_right", 0 },
      { "input_padding_bottom", 0 }, { "input_padding_left", 0 },
      { "kernel_height", 1 }, { "kernel_width", 1 }, { "subsampling_height", 1 },
      { "subsampling_width", 1 }, { "dilation_height", 1 }, { "dilation_width", 1 },
      { "groups", 1 }, { "group_input_channels", node.cin },
      { "group_output_channels", node.cout }, { "input_channel_stride", x.stride },
      { "output_channel_stride", y.stride }, { "input_zero_point", qx.zp },
      { "input_scale", qx.scale }, "w->qs", "w->qk", "w->qb", { "output_zero_point", qy.zp },
      { "output_scale", qy.scale }, { "output_min", min }, { "output_max", max } }) ..
    setup(h, node, ctx, "convolution2d_nhwc_qc8", {
      { "batch_size", x.shape[1] }, { "input_height", 1 }, { "input_width", 1 },
      { "input", x.ptr }, { "output", y.ptr } })
end

local function binary(h, node, ctx, kind, a_shape, b_id, b_shape)
  local a, y = ctx.compact(node, node.inputs[1]), ctx.compact(node, node.output)
  local b = ctx.compact(node, b_id)
  local qa, qb, qy = ctx.qp(node.inputs[1]), ctx.qp(b_id), ctx.qp(node.output)
  local min, max = qclamp(node.act, qy)
  return create(h, node, ctx, kind, {
    { "input1_zero_point", qa.zp }, { "input1_scale", qa.scale },
    { "input2_zero_point", qb.zp }, { "input2_scale", qb.scale },
    { "output_zero_point", qy.zp }, { "output_scale", qy.scale },
    { "output_min", min }, { "output_max", max } }) ..
    setup(h, node, ctx, kind, {
      { "num_input1_dims", #a_shape }, "(const size_t[]){" .. table.concat(a_shape, ", ") .. "}",
      { "num_input2_dims", #b_shape }, "(const size_t[]){" .. table.concat(b_shape, ", ") .. "}",
      { "input1", a.ptr }, { "input2", b.ptr }, { "output", y.ptr } })
end

function emit.add(h, node, ctx)
  local n = util.prod(ctx.shape(node.inputs[1]))
  return binary(h, node, ctx, "add_nd_qs8", { n }, node.inputs[2], { n })
end

function emit.scale(h, node, ctx)
  local x = ctx.shape(node.inputs[1])
  return binary(h, node, ctx, "multiply_nd_qs8", { x[1], x[2] * x[3], x[4] }, node.inputs[2],
                { x[1], 1, x[4] })
end

local function max_pool(h, node, ctx, p, k, stride, x, y)
  return create(h, node, ctx, "max_pooling2d_nhwc_s8", {
    { "input_padding_top", p[1] }, { "input_padding_right", p[2] },
    { "input_padding_bottom", p[3] }, { "input_padding_left", p[4] },
    { "pooling_height", k[1] }, { "pooling_width", k[2] },
    { "stride_height", stride }, { "stride_width", stride },
    { "dilation_height", 1 }, { "dilation_width", 1 }, { "channels", x.shape[4] },
    { "input_pixel_stride", x.stride }, { "output_pixel_stride", y.stride },
    { "output_min", -128 }, { "output_max", 127 } }) ..
    setup(h, node, ctx, "max_pooling2d_nhwc_s8", {
      { "batch_size", x.shape[1] }, { "input_height", x.shape[2] },
      { "input_width", x.shape[3] }, { "input", x.ptr }, { "output", y.ptr } })
end

function emit.maxpool(h, node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  return max_pool(h, node, ctx, node.pad, { node.k, node.k }, node.stride, x, y)
end

function emit.global_pool(h, node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  if node.mode == "max" then
    if x.shape[2] * x.shape[3] == 1 then return emit.copy(h, node, ctx) end
    return max_pool(h, node, ctx, { 0, 0, 0, 0 }, { x.shape[2], x.shape[3] }, 1, x, y)
  end
  local qx, qy = ctx.qp(node.inputs[1]), ctx.qp(node.output)
  local kind = "global_average_pooling_nwc_qs8"
  return create(h, node, ctx, kind, {
    { "channels", x.shape[4] }, { "input_stride", x.stride }, { "output_stride", y.stride },
    { "input_zero_point", qx.zp }, { "input_scale", qx.scale },
    { "output_zero_point", qy.zp }, { "output_scale", qy.scale },
    { "output_min", -128 }, { "output_max", 127 } }) ..
    setup(h, node, ctx, kind, { { "batch_size", x.shape[1] },
                                { "width", x.shape[2] * x.shape[3] }, { "input", x.ptr },
                                { "output", y.ptr } })
end

-- a function of one value through a table: fn names a C function (x, c)
local function lut(node, ctx, fn, c)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  ctx.luts = ctx.luts + 1
  local t = "lut_" .. ctx.luts
  return string.format("  timmc_lut8_fill(%s, %s, %sf, %s, %s);\n", t, fn, util.float_repr(c + 0.0),
                       ctx.qp(node.inputs[1]).ref, ctx.qp(node.output).ref) ..
    string.format("  ops[%d] = (timmc_op){.kernel = timmc_kernel_lut8, .a = (const float *)%s,\n" ..
                  "      .b = (const float *)%s, .y = (float *)%s,\n" ..
                  "      .dims = {/*pixels=*/%d, /*channels=*/%d, /*in_stride=*/%d, " ..
                  "/*out_stride=*/%d}};\n", ctx.op, x.ptr, t, y.ptr,
                  x.shape[1] * x.shape[2] * x.shape[3], x.shape[4], x.stride, y.stride)
end

function emit.act(_, node, ctx)
  ctx.lut_fns[node.fn] = true
  return lut(node, ctx, "lut_" .. node.fn, 0)
end

function emit.mul_const(_, node, ctx)
  ctx.lut_fns.mul = true
  return lut(node, ctx, "lut_mul", node.value)
end

-- The kinds with an int8 form, and those whose output must keep its input's
-- scale (the operator cannot rescale: max pooling, copies).
int8.emit = emit
int8.SAME_SCALE = { maxpool = true, copy = true, global_pool = true }

local function global_max(node) return node.kind ~= "global_pool" or node.mode == "max" end

-- Whether a node runs in int8 (the quantize pass asks). A dense convolution
-- of fewer than 8 input channels (the stem, on the image's 3) stays
-- float32: XNNPACK's int8 GEMM takes input channels 8 at a time, so with 3
-- over half its work is padding, and the image's own rounding to int8 would
-- add to every output (docs/int8.md).
-- A linear layer stays float32 where it sums slices of its input first
-- (in_repeat), and where it makes one of forward's outputs (a classifier's
-- logits): the range of logits is what calibration is least sure of (the
-- extremes come from the few classes each image shows), and an output is
-- dequantized at once, so int8 would save only a small GEMM.
function int8.runs_int8(node, is_output)
  if node.kind == "conv" then return node.groups > 1 or node.cin >= 8 end
  if node.kind == "linear" then return node.in_repeat == 1 and not is_output end
  return true
end

-- Whether node's output takes its input's quantization (the quantize pass).
function int8.same_scale(node) return int8.SAME_SCALE[node.kind] and global_max(node) end

function int8.new_context(ctx) tables.new_context(ctx) end

-- The C the emitters asked for: the scales, tables, and calibration's view.
function int8.declarations(ctx)
  if #ctx.qkeys == 0 then return "" end
  local out = { ctx.qgemm and "#include \"timmc_qgemm.h\"\n" or "", tables.declarations(ctx) }
  for i = 1, ctx.luts do
    out[#out + 1] = string.format("static int8_t lut_%d[256];\n", i)
  end
  out[#out + 1] = tables.lut_functions(ctx)
  return table.concat(out)
end

int8.prologue = tables.prologue

return int8
