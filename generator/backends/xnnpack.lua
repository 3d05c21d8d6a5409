-- backends/xnnpack.lua: runs the graph with XNNPACK's operator API (the 2022
-- Debian snapshot: xnn_create_* at init, bound to arena slots with
-- xnn_setup_*, xnn_run_operator in forward) and timmc's runtime kernels for
-- what XNNPACK lacks. Everything XNNPACK-specific lives here and in
-- templates/xnnpack/: which ops read and write through a pixel stride, the
-- arena's alignment and tail (XNN_EXTRA_BYTES), the Winograd pass, and one
-- emitter per node kind.
--
-- A backend is a table of:
--   name, template       its name and its templates/<name>/model.c.in
--   align, arena_tail    arena alignment (bytes) and the C expression of the
--                        bytes its kernels may read past the arena's end
--   passes               its own passes, run after select_features
--   ops[kind]            { emit = function(node, ctx) -> C that prepares the
--                        op at init, strided = reads and writes channel slices,
--                        in_place = false to refuse what ops.lua allows }
--   declarations(ctx)    C declarations its emitters asked for
--   sources, libs        runtime files and libraries a runner links
local util = require("util")
local activations = require("activations")
local POSITIONS = require("passes.winograd").POSITIONS -- Winograd's products per tile
local pick = require("passes.pick_kernels") -- timmc's own kernels or XNNPACK's, per layer

local xnnpack = {
  name = "xnnpack",
  template = "templates/xnnpack/model.c.in",
  align = 64,
  arena_tail = "XNN_EXTRA_BYTES",
  passes = { "winograd", "fuse_gate_add", "fuse_dw_act" },
  sources = { "timmc_err", "timmc_file", "timmc_st", "timmc_npy", "timmc_rt", "timmc_wino",
              "timmc_gemm", "timmc_dw", "timmc_qgemm", "timmc_rand", "timmc_image", "timmc_png",
              "timmc_quant", "timmc_calib" },
  libs = "-lXNNPACK -lpthreadpool -lcjson -lm",
}

local emit = {} -- by node kind: node, ctx -> C that creates and binds its operator

-- A call with every argument commented: {"name", value} pairs or raw strings.
local function call(fn, args)
  local parts = {}
  for _, a in ipairs(args) do
    parts[#parts + 1] = type(a) == "table" and string.format("/*%s=*/%s", a[1], tostring(a[2]))
                        or a
  end
  local lines, line = {}, "      "
  for i, p in ipairs(parts) do
    local piece = p .. (i < #parts and "," or ");")
    if #line + #piece + 1 > 100 and line ~= "      " then
      lines[#lines + 1] = line
      line = "      "
    end
    line = line .. (line == "      " and "" or " ") .. piece
  end
  lines[#lines + 1] = line
  return "  s = " .. fn .. "(\n" .. table.concat(lines, "\n") .. "\n"
end

local function check(node, what)
  return string.format("  if (s != xnn_status_success) return timmc_xnn_fail(%q, %q, s);\n",
                       node.name, what)
end

-- C statements one level deeper, into the braces of an if or else.
local function indent(c) return (c:gsub("\n  ", "\n    "):gsub("^  ", "    ")) end

-- The output range of a fused activation (a clamp, or none).
local function clamp(act)
  local c = act and activations[act].clamp or { -math.huge, math.huge }
  return util.float_repr(c[1] + 0.0) .. (c[1] == -math.huge and "" or "f"),
         util.float_repr(c[2] + 0.0) .. (c[2] == math.huge and "" or "f")
end

local function quote(s) return s and string.format("%q", s) or "NULL" end

local function op(ctx) return "&ops[" .. ctx.op .. "].xnn" end
local function opv(ctx) return "ops[" .. ctx.op .. "].xnn" end

-- create + setup of an XNNPACK NHWC operator working on pixels (conv, pools)
local function pixel_op(node, ctx, kind, create_args, x, y)
  return call("xnn_create_" .. kind .. "_nhwc_f32", create_args) .. check(node, "create") ..
    call("xnn_setup_" .. kind .. "_nhwc_f32", {
      opv(ctx), { "batch_size", x.shape[1] }, { "input_height", x.shape[2] },
      { "input_width", x.shape[3] }, { "input", x.ptr }, { "output", y.ptr }, "threadpool" }) ..
    check(node, "setup")
end

local function conv_args(ctx, p, k, s, d, groups, cin_g, cout_g, x, y, bias, act)
  local min, max = clamp(act)
  return {
    { "input_padding_top", p[1] }, { "input_padding_right", p[2] },
    { "input_padding_bottom", p[3] }, { "input_padding_left", p[4] },
    { "kernel_height", k[1] }, { "kernel_width", k[2] },
    { "subsampling_height", s }, { "subsampling_width", s },
    { "dilation_height", d }, { "dilation_width", d },
    { "groups", groups }, { "group_input_channels", cin_g },
    { "group_output_channels", cout_g }, { "input_channel_stride", x.stride },
    { "output_channel_stride", y.stride }, "w->kernel", bias,
    { "output_min", min }, { "output_max", max }, { "flags", 0 }, op(ctx) }
end

-- create + setup of an XNNPACK "nc" operator over pixels (clamp, copy, sigmoid)
local function nc_op(node, ctx, kind, extra, x, y)
  local args = { { "channels", x.shape[4] }, { "input_stride", x.stride },
                 { "output_stride", y.stride } }
  for _, a in ipairs(extra) do args[#args + 1] = a end
  args[#args + 1] = { "flags", 0 }
  args[#args + 1] = op(ctx)
  return call("xnn_create_" .. kind, args) .. check(node, "create") ..
    call("xnn_setup_" .. kind, {
      opv(ctx), { "batch_size", x.shape[1] * x.shape[2] * x.shape[3] }, { "input", x.ptr },
      { "output", y.ptr }, "threadpool" }) .. check(node, "setup")
end

-- The runtime call that reads a conv's weights with BatchNorm folded into w.
local function load_conv(node)
  return string.format(
    "  TIMMC_TRY(timmc_load_conv(w, st, %q, %s, %s,\n      /*out_channels=*/%d, " ..
    "/*group_input_channels=*/%d, /*kernel=*/%d, /*bn_eps=*/%s));\n", node.weight,
    quote(node.bias), quote(node.bn), node.cout, node.cin // node.groups, node.k,
    util.float_repr(node.bn_eps))
end

-- A layer that runs timmc's own kernel where the build has it (x86-64) and
-- `use` holds at init (a C condition: the CPU, the cost model's choice and
-- the environment), XNNPACK's operator otherwise: own is its C statements.
local function own_or_xnn(use, own, xnn)
  return "#if TIMMC_GEMM_BUILT\n  if (" .. use .. ") {\n" .. indent(own) ..
         "  } else\n#endif\n  {\n" .. indent(xnn) .. "  }\n"
end

-- A depthwise convolution as timmc_kernel_dwconv (runtime/timmc_dw.c), its
-- packed weights in static storage; with a SiLU fused after it
-- (passes/fuse_dw_act.lua), the kernel applies it as it stores, and where
-- XNNPACK's operator runs instead, timmc_kernel_xnn_silu runs the SiLU in
-- place after it.
local function dwconv(node, ctx, x, y, xnn)
  local min, max = clamp(node.act)
  local own = string.format(table.concat({
    "  static float packed[%d] __attribute__((aligned(64)));",
    "  static float params[6] = {/*min=*/%s, /*max=*/%s, /*kernel=*/%d, /*pad_top=*/%d, " ..
    "/*pad_left=*/%d,",
    "                            /*silu=*/%d};",
    "  TIMMC_TRY(timmc_dw_pack(w, /*channels=*/%d, /*kernel=*/%d, packed));",
    "  ops[%d] = (timmc_op){.kernel = timmc_kernel_dwconv, .a = %s, .b = packed, .y = %s,",
    "      .work = {params, NULL},",
    "      .dims = {/*batch=*/%d, /*height=*/%d, /*width=*/%d, /*channels=*/%d, " ..
    "/*in_stride=*/%d,",
    "               /*out_stride=*/%d, /*stride=*/%d, /*in_height=*/%d, /*in_width=*/%d}};\n" },
    "\n"), (node.cin + 15) // 16 * 16 * (node.k * node.k + 1), min, max, node.k, node.pad[1],
    node.pad[4], node.post == "silu" and 1 or 0, node.cin, node.k, ctx.op, x.ptr, y.ptr,
    y.shape[1], y.shape[2], y.shape[3], node.cin, x.stride, y.stride, node.stride, x.shape[2],
    x.shape[3])
  if node.post == "silu" then
    xnn = xnn .. string.format(
      "  ops[%d] = (timmc_op){.xnn = ops[%d].xnn, .kernel = timmc_kernel_xnn_silu, .a = %s, " ..
      ".y = %s,\n      .dims = {/*pixels=*/%d, /*channels=*/%d, /*in_stride=*/%d, " ..
      "/*out_stride=*/%d}};\n", ctx.op, ctx.op, y.ptr, y.ptr,
      y.shape[1] * y.shape[2] * y.shape[3], y.shape[4], y.stride, y.stride)
  end
  local use = string.format("timmc_dw_use(/*chosen=*/%d)", pick.dw_chosen(node, x) and 1 or 0)
  return load_conv(node) .. own_or_xnn(use, own, xnn)
end

function emit.conv(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local cin_g, cout_g = node.cin // node.groups, node.cout // node.groups
  local xnn = pixel_op(node, ctx, "convolution2d", conv_args(ctx, node.pad, { node.k, node.k },
                       node.stride, node.dilation, node.groups, cin_g, cout_g, x, y, "w->bias",
                       node.act), x, y)
  if pick.dw_applies(node) then return dwconv(node, ctx, x, y, xnn) end
  local wide = pick.gemm_applies(node)
  if not wide and not pick.gemm24_applies(node) then return load_conv(node) .. xnn end
  -- timmc's GEMM where the CPU has it (runtime/timmc_gemm.c), its packed
  -- weights in static storage
  local min, max = clamp(node.act)
  local chosen = wide and pick.gemm_chosen(node, y.shape) or pick.gemm24_chosen(node, y.shape)
  local taps = node.k * node.k
  local gemm = {
    "  static float packed[%d] __attribute__((aligned(64)));",
    "  static float params[7] = {/*min=*/%s, /*max=*/%s, /*kernel=*/%d, /*pad_top=*/%d, " ..
    "/*pad_left=*/%d,",
    "                            /*dilation=*/%d, /*groups=*/%d};",
    "  TIMMC_TRY(%s);",
    "  ops[%d] = (timmc_op){.kernel = %s, .a = %s, .b = packed, .y = %s,",
    "      .work = {params, NULL},",
    "      .dims = {/*batch=*/%d, /*height=*/%d, /*width=*/%d, /*in_channels=*/%d, " ..
    "/*out_channels=*/%d,",
    "               /*in_stride=*/%d, /*out_stride=*/%d, /*stride=*/%d, /*in_height=*/%d, " ..
    "/*in_width=*/%d}};\n" }
  local pack, floats, fn
  if wide then
    pack = string.format("timmc_gemm_pack(w, /*out_channels=*/%d, /*in_channels=*/%d, " ..
                         "/*kernel=*/%d, packed)", node.cout, node.cin, node.k)
    floats, fn = (node.cout + 31) // 32 * 32 * (node.cin * taps + 1), "timmc_kernel_gemm"
  else -- groups of 24 output channels
    pack = string.format("timmc_gemm24_pack(w, /*groups=*/%d, /*in_channels=*/%d, " ..
                         "/*kernel=*/%d, packed)", node.groups, cin_g, node.k)
    floats, fn = node.groups * 24 * (cin_g * taps + 1), "timmc_kernel_gemm24"
  end
  local own = string.format(table.concat(gemm, "\n"), floats, min, max, node.k, node.pad[1],
                            node.pad[4], node.dilation, node.groups, pack, ctx.op, fn, x.ptr,
                            y.ptr, y.shape[1], y.shape[2], y.shape[3], cin_g,
                            node.cout // node.groups, x.stride, y.stride, node.stride,
                            x.shape[2], x.shape[3])
  return load_conv(node) ..
    own_or_xnn(string.format("timmc_gemm_use(/*chosen=*/%d)", chosen and 1 or 0), own, xnn)
end

-- An elementwise step as timmc's runtime kernel (own: the timmc_op line(s)),
-- or XNNPACK's operators (xnn) under TIMMC_ELEMENTWISE=xnnpack.
local function elementwise(own, xnn)
  return "  if (timmc_elementwise_own()) {\n" .. indent(own) .. "  } else {\n" .. indent(xnn) ..
         "  }\n"
end

-- BatchNorm as a per-channel affine: timmc_kernel_affine, one pass split
-- over the pool's threads (XNNPACK's form of it, a depthwise 1x1
-- convolution, took 1.4-1.9x its time over densenet121's 62 in most runs:
-- docs/speed.md), its scales and shifts in the static `affine` array.
function emit.bn_act(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local c = x.shape[4]
  local min, max = clamp(node.act)
  local at = string.format("affine + %d", ctx.affine)
  ctx.affine = ctx.affine + 2 + 2 * c
  local own = string.format(
    "  timmc_affine_params(w, /*channels=*/%d, /*min=*/%s, /*max=*/%s, %s);\n" ..
    "  ops[%d] = (timmc_op){.kernel = timmc_kernel_affine, .a = %s, .b = %s, .y = %s,\n" ..
    "      .dims = {/*pixels=*/%d, /*channels=*/%d, /*in_stride=*/%d, /*out_stride=*/%d}};\n",
    c, min, max, at, ctx.op, x.ptr, at, y.ptr, x.shape[1] * x.shape[2] * x.shape[3], c,
    x.stride, y.stride)
  return string.format("  TIMMC_TRY(timmc_load_bn_affine(w, st, %q, /*channels=*/%d, " ..
                       "/*bn_eps=*/%s));\n", node.bn, c, util.float_repr(node.bn_eps)) ..
    elementwise(own, pixel_op(node, ctx, "convolution2d", conv_args(ctx, { 0, 0, 0, 0 }, { 1, 1 },
                1, 1, c, 1, 1, x, y, "w->bias", node.act), x, y))
end

-- XNNPACK's own operators for activations, and timmc's vectorised runtime
-- kernels (timmc_rt.c); the others run as a loop over the activation's C
-- expression (activations.lua), printed into the model's file.
local NATIVE_ACT = { sigmoid = "sigmoid_nc_f32", hard_swish = "hardswish_nc_f32" }
local KERNEL_ACT = { silu = "timmc_kernel_silu" }

function emit.act(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local a = activations[node.fn]
  if a.clamp then
    local min, max = clamp(node.fn)
    return nc_op(node, ctx, "clamp_nc_f32", { { "output_min", min }, { "output_max", max } }, x, y)
  end
  if NATIVE_ACT[node.fn] then return nc_op(node, ctx, NATIVE_ACT[node.fn], {}, x, y) end
  local fn = KERNEL_ACT[node.fn]
  if not fn then
    ctx.act_kernels[node.fn] = true
    fn = "act_" .. node.fn
  end
  return string.format("  ops[%d] = (timmc_op){.kernel = %s, .a = %s, .y = %s,\n" ..
                       "      .dims = {/*pixels=*/%d, /*channels=*/%d, /*in_stride=*/%d, " ..
                       "/*out_stride=*/%d}};\n", ctx.op, fn, x.ptr, y.ptr,
                       x.shape[1] * x.shape[2] * x.shape[3], x.shape[4], x.stride, y.stride)
end

function emit.copy(node, ctx)
  return nc_op(node, ctx, "copy_nc_x32", {}, ctx.at(node.inputs[1]), ctx.at(node.output))
end

-- The create arguments of XNNPACK's max (with dilation) and average pooling:
-- padding p, a kh x kw window, stride, x's channels and both pixel strides.
local function pool_args(ctx, p, kh, kw, stride, x, y, with_dilation)
  local args = {
    { "input_padding_top", p[1] }, { "input_padding_right", p[2] },
    { "input_padding_bottom", p[3] }, { "input_padding_left", p[4] },
    { "pooling_height", kh }, { "pooling_width", kw },
    { "stride_height", stride }, { "stride_width", stride } }
  if with_dilation then
    args[#args + 1] = { "dilation_height", 1 }
    args[#args + 1] = { "dilation_width", 1 }
  end
  for _, a in ipairs({ { "channels", x.shape[4] }, { "input_pixel_stride", x.stride },
                       { "output_pixel_stride", y.stride }, { "output_min", "-INFINITY" },
                       { "output_max", "INFINITY" }, { "flags", 0 }, op(ctx) }) do
    args[#args + 1] = a
  end
  return args
end

function emit.maxpool(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  return pixel_op(node, ctx, "max_pooling2d",
                  pool_args(ctx, node.pad, node.k, node.k, node.stride, x, y, true), x, y)
end

function emit.avgpool(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local p, c = node.pad, x.shape[4]
  if node.count_include_pad then
    -- zeros of the padding count: a depthwise conv with weights 1/(k*k) does it
    return string.format("  TIMMC_TRY(timmc_const_kernel(w, %d, %sf));\n", c * node.k * node.k,
                         util.float_repr(1 / (node.k * node.k))) ..
      pixel_op(node, ctx, "convolution2d", conv_args(ctx, p, { node.k, node.k }, node.stride, 1, c,
               1, 1, x, y, "NULL"), x, y)
  end
  -- XNNPACK leaves padding out of the average: count_include_pad=False
  return pixel_op(node, ctx, "average_pooling2d",
                  pool_args(ctx, p, node.k, node.k, node.stride, x, y, false), x, y)
end

local function binary(node, ctx, kind, a_shape, b_shape, b_ptr, act, y_ptr)
  local a, y = ctx.compact(node, node.inputs[1]), ctx.compact(node, node.output)
  y = { ptr = y_ptr or y.ptr }
  local min, max = clamp(act)
  return call("xnn_create_" .. kind .. "_nd_f32", {
    { "output_min", min }, { "output_max", max }, { "flags", 0 }, op(ctx) }) ..
    check(node, "create") ..
    call("xnn_setup_" .. kind .. "_nd_f32", {
      opv(ctx), { "num_input1_dims", #a_shape },
      "(const size_t[]){" .. table.concat(a_shape, ", ") .. "}",
      { "num_input2_dims", #b_shape }, "(const size_t[]){" .. table.concat(b_shape, ", ") .. "}",
      { "input1", a.ptr }, { "input2", b_ptr }, { "output", y.ptr }, "threadpool" }) ..
    check(node, "setup")
end

-- timmc's kernel for an elementwise step with a clamp: the clamp's {min, max}
-- in a static array of its own (work[0]), then work[1] if given, and dims
local function clamped_op(ctx, kernel, act, a, b, y, work1, dims)
  local min, max = clamp(act)
  return string.format(
    "  static float params[2] = {/*min=*/%s, /*max=*/%s};\n" ..
    "  ops[%d] = (timmc_op){.kernel = %s, .a = %s, .b = %s, .y = %s,\n" ..
    "      .work = {params%s}, .dims = {%s}};\n",
    min, max, ctx.op, kernel, a, b, y, work1 and ", " .. work1 or "", dims)
end

-- The residual add and its clamp: timmc_kernel_add, split over the pool's
-- threads; XNNPACK's add over the flat tensor (its form under
-- TIMMC_ELEMENTWISE=xnnpack) is one task whatever the threads.
function emit.add(node, ctx)
  local a, b = ctx.compact(node, node.inputs[1]), ctx.compact(node, node.inputs[2])
  local n = util.prod(a.shape)
  local own = clamped_op(ctx, "timmc_kernel_add", node.act, a.ptr, b.ptr,
                         ctx.compact(node, node.output).ptr, nil, "/*elements=*/" .. n)
  return elementwise(own, binary(node, ctx, "add", { n }, { n }, b.ptr, node.act))
end

function emit.scale(node, ctx)
  local x = ctx.shape(node.inputs[1])
  return binary(node, ctx, "multiply", { x[1], x[2] * x[3], x[4] }, { x[1], 1, x[4] },
                ctx.compact(node, node.inputs[2]).ptr)
end

-- x * gate + residual with the add's clamp (fuse_gate_add): timmc's kernel,
-- one pass; XNNPACK's form is the two operators it replaces, the product
-- into y (which may be x, never the residual) and y + residual after it.
function emit.scale_add(node, ctx)
  local x = ctx.compact(node, node.inputs[1])
  local g, r = ctx.compact(node, node.inputs[2]), ctx.compact(node, node.inputs[3])
  local y = ctx.compact(node, node.output)
  local n, min, max = util.prod(x.shape), clamp(node.act)
  local own = clamped_op(ctx, "timmc_kernel_scale_add", node.act, x.ptr, r.ptr, y.ptr, g.ptr,
                         string.format("/*batch=*/%d, /*pixels=*/%d, /*channels=*/%d",
                                       x.shape[1], x.shape[2] * x.shape[3], x.shape[4]))
  local after = "&ops[" .. ctx.op .. "].xnn_after"
  local xnn = binary(node, ctx, "multiply", { x.shape[1], x.shape[2] * x.shape[3], x.shape[4] },
                     { x.shape[1], 1, x.shape[4] }, g.ptr, nil, y.ptr) ..
    call("xnn_create_add_nd_f32", {
      { "output_min", min }, { "output_max", max }, { "flags", 0 }, after }) ..
    check(node, "create") ..
    call("xnn_setup_add_nd_f32", {
      after:sub(2), { "num_input1_dims", 1 }, "(const size_t[]){" .. n .. "}",
      { "num_input2_dims", 1 }, "(const size_t[]){" .. n .. "}", { "input1", y.ptr },
      { "input2", r.ptr }, { "output", y.ptr }, "threadpool" }) .. check(node, "setup")
  return elementwise(own, xnn)
end

function emit.mul_const(node, ctx)
  local x = ctx.shape(node.inputs[1])
  ctx.consts[#ctx.consts + 1] = node.value
  return binary(node, ctx, "multiply", { x[1] * x[4] }, { 1 }, "const_" .. #ctx.consts)
end

function emit.global_pool(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local c = x.shape[4]
  if node.mode == "avg" then
    -- timmc_kernel_global_mean splits the channels over the pool's threads,
    -- where XNNPACK's operator runs an image on one thread (docs/speed.md)
    local own = string.format(
      "  ops[%d] = (timmc_op){.kernel = timmc_kernel_global_mean, .a = %s, .y = %s,\n" ..
      "      .dims = {/*batch=*/%d, /*pixels=*/%d, /*channels=*/%d, /*in_stride=*/%d, " ..
      "/*out_stride=*/%d}};\n", ctx.op, x.ptr, y.ptr, x.shape[1], x.shape[2] * x.shape[3], c,
      x.stride, y.stride)
    return elementwise(own, call("xnn_create_global_average_pooling_nwc_f32", {
      { "channels", c }, { "input_stride", x.stride }, { "output_stride", y.stride },
      { "output_min", "-INFINITY" }, { "output_max", "INFINITY" }, { "flags", 0 }, op(ctx) }) ..
      check(node, "create") ..
      call("xnn_setup_global_average_pooling_nwc_f32", {
        opv(ctx), { "batch_size", x.shape[1] }, { "width", x.shape[2] * x.shape[3] },
        { "input", x.ptr }, { "output", y.ptr }, "threadpool" }) .. check(node, "setup"))
  end
  if x.shape[2] * x.shape[3] == 1 then -- the max of one pixel is a copy
    return nc_op(node, ctx, "copy_nc_x32", {}, x, y)
  end
  return pixel_op(node, ctx, "max_pooling2d",
                  pool_args(ctx, { 0, 0, 0, 0 }, x.shape[2], x.shape[3], 1, x, y, true), x, y)
end

function emit.eca_conv(node, ctx)
  local x, y = ctx.compact(node, node.inputs[1]), ctx.compact(node, node.output)
  local pad = (node.k - 1) // 2
  -- the pooled [N, C] vector is read as an N x 1 x C image of one channel
  local xi = { ptr = x.ptr, stride = 1, shape = { x.shape[1], 1, x.shape[4], 1 } }
  local yi = { ptr = y.ptr, stride = 1 }
  return string.format("  TIMMC_TRY(timmc_load_conv1d(w, st, %q, /*kernel=*/%d));\n",
                       node.weight, node.k) ..
    pixel_op(node, ctx, "convolution2d", conv_args(ctx, { 0, pad, 0, pad }, { 1, node.k }, 1, 1, 1,
             1, 1, xi, yi, "NULL"), xi, yi)
end

function emit.linear(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local gate = node.gate == "hard_sigmoid"
  local min, max = clamp(node.act)
  if gate then min, max = "0.0f", "1.0f" end
  return string.format("  TIMMC_TRY(timmc_load_linear(w, st, %q, %q, %s,\n      " ..
                       "/*out_features=*/%d, /*in_features=*/%d, /*weight_ndim=*/%d, " ..
                       "/*in_repeat=*/%d, /*hard_sigmoid=*/%d, /*bn_eps=*/%s));\n", node.weight,
                       node.bias, quote(node.bn), node.cout, node.cin, node.weight_ndim,
                       node.in_repeat, gate and 1 or 0, util.float_repr(node.bn_eps)) ..
    call("xnn_create_fully_connected_nc_f32", {
      { "input_channels", node.cin * node.in_repeat }, { "output_channels", node.cout },
      { "input_stride", x.stride }, { "output_stride", y.stride }, "w->kernel", "w->bias",
      { "output_min", min }, { "output_max", max }, { "flags", 0 }, op(ctx) }) ..
    check(node, "create") ..
    call("xnn_setup_fully_connected_nc_f32", {
      opv(ctx), { "batch_size", x.shape[1] }, { "input", x.ptr }, { "output", y.ptr },
      "threadpool" }) .. check(node, "setup")
end

-- runtime kernels (timmc_rt.c) for what XNNPACK lacks
local function kernel(ctx, fn, a, b, y, sizes)
  return string.format("  ops[%d] = (timmc_op){.kernel = %s, .a = %s, .b = %s, .y = %s,\n" ..
                       "                      .dims = {%s}};\n", ctx.op, fn, a, b, y,
                       table.concat(sizes, ", "))
end

function emit.rsoftmax(node, ctx)
  local x, y = ctx.compact(node, node.inputs[1]), ctx.compact(node, node.output)
  return kernel(ctx, "timmc_kernel_rsoftmax", x.ptr, "NULL", y.ptr,
                { "/*batch=*/" .. x.shape[1], "/*radix=*/" .. node.radix,
                  "/*groups=*/" .. node.groups,
                  "/*rest=*/" .. x.shape[4] // (node.radix * node.groups) })
end

function emit.radix_sum(node, ctx)
  local x, y = ctx.compact(node, node.inputs[1]), ctx.compact(node, node.output)
  local a = ctx.compact(node, node.inputs[2])
  return kernel(ctx, "timmc_kernel_radix_sum", x.ptr, a.ptr, y.ptr,
                { "/*batch=*/" .. x.shape[1], "/*pixels=*/" .. x.shape[2] * x.shape[3],
                  "/*radix=*/" .. node.radix, "/*channels=*/" .. y.shape[4] })
end

-- Winograd F(4x4, 3x3) (the winograd pass): a runtime kernel that runs
-- its transforms block by block around the products over channels: timmc's
-- GEMM where it is built, the CPU has it and the cost model chose it
-- (pick_kernels.lua), XNNPACK's grouped 1x1 convolution otherwise. Only a
-- chosen layer gets the GEMM's static weights (4x a direct layer's: 36
-- products a channel pair), so TIMMC_GEMM=all leaves the others to XNNPACK.
function emit.wino_conv(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local v, m = ctx.at(node.work[1]), ctx.at(node.work[2])
  local cin_g, cout_g = node.cin // node.groups, node.cout // node.groups
  local products = POSITIONS * node.groups
  local bias = string.format("wino_bias + %d", ctx.wino_bias)
  ctx.wino_bias = ctx.wino_bias + node.cout
  local xnn = pixel_op(node, ctx, "convolution2d",
                       conv_args(ctx, { 0, 0, 0, 0 }, { 1, 1 }, 1, 1, products, cin_g, cout_g,
                                 v, m, "NULL"), v, m)
  local gemm = table.concat({
    "#if TIMMC_GEMM_BUILT",
    "  if (timmc_gemm_use(/*chosen=*/1)) {",
    "    static float packed[%d] __attribute__((aligned(64)));",
    "    TIMMC_TRY(timmc_gemm_products_pack(w->kernel, /*products=*/%d, /*in_channels=*/%d, " ..
    "/*out_channels=*/%d,",
    "                                       packed));",
    "    ops[%d].packed = packed;",
    "  } else\n#endif\n  {\n" }, "\n")
  local floats = products * (cout_g + 31) // 32 * 32 * (cin_g + 1)
  local products_op = xnn
  if pick.wino_products_chosen(node) then
    products_op = string.format(gemm, floats, products, cin_g, cout_g, ctx.op) ..
      indent(xnn) .. "  }\n"
  end
  return load_conv(node) ..
    string.format("  TIMMC_TRY(timmc_wino_weights(w, /*out_channels=*/%d, " ..
                  "/*group_input_channels=*/%d, %s));\n", node.cout, cin_g, bias) ..
    products_op ..
    string.format("  ops[%d] = (timmc_op){.xnn = ops[%d].xnn, .packed = ops[%d].packed,\n" ..
                  "      .kernel = timmc_kernel_wino, .a = %s, .b = %s, .y = %s,\n" ..
                  "      .work = {%s, %s},\n" ..
                  "      .dims = {/*batch=*/%d, /*height=*/%d, /*width=*/%d, " ..
                  "/*in_channels=*/%d, /*out_channels=*/%d,\n               " ..
                  "/*in_stride=*/%d, /*out_stride=*/%d, " ..
                  "/*dilation=*/%d, /*relu=*/%d, /*block=*/%d, /*groups=*/%d}};\n",
                  ctx.op, ctx.op, ctx.op, x.ptr, bias, y.ptr, v.ptr, m.ptr, x.shape[1],
                  x.shape[2], x.shape[3], node.cin, node.cout, x.stride, y.stride,
                  node.dilation, node.act == "relu" and 1 or 0, node.block, node.groups)
end

-- Which emitters take channel slices (XNNPACK's pixel strides, or a kernel's
-- stride dims); the others need compact tensors.
local STRIDED = { conv = true, bn_act = true, act = true, maxpool = true, avgpool = true,
                  global_pool = true, linear = true, copy = true, concat = true,
                  wino_conv = true }

xnnpack.ops = {}
for kind, fn in pairs(emit) do
  xnnpack.ops[kind] = { emit = fn, strided = STRIDED[kind] or false }
end
-- a concat never reaches the emitter (place_concats turns it into views and
-- copies), but it writes strided as much as its copies do
xnnpack.ops.concat = { strided = true }

-- int8 (backends/xnnpack_int8.lua): a kind with an int8 form says so
-- (int8(node) for the quantize pass, same_scale when its output keeps its
-- input's scale); a node whose output the quantize pass made int8 takes it.
local int8 = require("backends.xnnpack_int8")
for kind, fn in pairs(int8.emit) do
  local impl = xnnpack.ops[kind] or { strided = true }
  local f32 = impl.emit
  impl.int8 = int8.runs_int8
  impl.same_scale = int8.same_scale
  impl.emit = function(node, ctx)
    local y = ctx.model.tensors[node.output]
    if y.dtype == "qs8" or node.kind == "dequantize" then return fn(xnnpack.helpers, node, ctx) end
    return f32(node, ctx)
  end
  xnnpack.ops[kind] = impl
end
xnnpack.helpers = { call = call, check = check, op = op, opv = opv, indent = indent }

-- The C an act node's loop kernel is made of, for one activation.
local function act_kernel(fn)
  return string.format([[
/* %s, element by element: %s */
static void act_%s_pixels(void *context, size_t first, size_t count) {
  const timmc_op *op = context;
  const size_t channels = op->dims[1], in_stride = op->dims[2], out_stride = op->dims[3];
  for (size_t p = first; p < first + count; p++) {
    const float *in = op->a + p * in_stride;
    float *out = op->y + p * out_stride;
    for (size_t c = 0; c < channels; c++) {
      const float x = in[c];
      out[c] = %s;
    }
  }
}

static int act_%s(const timmc_op *op, pthreadpool_t pool) {
  pthreadpool_parallelize_1d_tile_1d(pool, act_%s_pixels, (void *)op, op->dims[0], 64,
                                     PTHREADPOOL_FLAG_DISABLE_DENORMALS);
  return TIMMC_OK;
}
]], fn, activations[fn].timm, fn, activations[fn].c, fn, fn)
end

function xnnpack.new_context(ctx)
  ctx.consts, ctx.wino_bias, ctx.affine, ctx.act_kernels = {}, 0, 0, {}
  int8.new_context(ctx)
end

-- Declarations the emitters asked for: Winograd biases, constants, the loop
-- kernels of activations XNNPACK has no operator for.
function xnnpack.declarations(ctx)
  local out = {}
  if ctx.wino_bias > 0 then
    out[1] = string.format("static float wino_bias[%d]; /* Winograd convolutions' biases */\n",
                           ctx.wino_bias)
  end
  if ctx.affine > 0 then
    out[#out + 1] = string.format("static float affine[%d]; /* per-channel affines' clamps, " ..
                                  "scales and shifts */\n", ctx.affine)
  end
  for i, v in ipairs(ctx.consts) do
    out[#out + 1] = string.format(
      "static const float const_%d[1 + XNN_EXTRA_BYTES / sizeof(float)] = {%sf};\n", i,
      util.float_repr(v + 0.0))
  end
  local fns = {}
  for fn in pairs(ctx.act_kernels) do fns[#fns + 1] = fn end
  table.sort(fns)
  for _, fn in ipairs(fns) do out[#out + 1] = "\n" .. act_kernel(fn) end
  out[#out + 1] = int8.declarations(ctx)
  return table.concat(out)
end

xnnpack.prologue = int8.prologue

return xnnpack
