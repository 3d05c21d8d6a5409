-- emit_c: prints the IR as C through templates/model.{h,c}.in. One emitter per
-- node kind creates its XNNPACK operator (weights read and folded by the
-- runtime) and binds it to its arena slots, so forward only runs operators.
local ir = require("ir")
local util = require("util")
local POSITIONS = require("passes.winograd").POSITIONS -- Winograd's products per tile

local emit = {}
local emitters = {} -- by node kind: node, ctx -> C that creates and binds its operator

local function dims(shape) return "[" .. table.concat(shape, ",") .. "]" end

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

local function clamp_min(act) return act == "relu" and "0.0f" or "-INFINITY" end

local function quote(s) return s and string.format("%q", s) or "NULL" end

-- Where a tensor lives: its first float in the arena and its pixel stride (the
-- channels of the tensor that owns the memory, which differ for a view).
local function at(ctx, id)
  local root, offset = ir.root(ctx.model, id)
  return { ptr = string.format("arena + %d", root.offset // 4 + offset), stride = root.c,
           shape = ctx.model.tensors[id].shape }
end

-- For XNNPACK's N-d ops and the runtime kernels, which take no strides: the
-- tensor must be compact.
local function compact(ctx, node, id)
  local r = at(ctx, id)
  assert(r.stride == r.shape[4], node.name .. ": an elementwise op on a channel slice")
  return r
end

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

local function conv_args(ctx, p, k, s, d, groups, cin_g, cout_g, x, y, bias, min, max)
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

-- A conv node's (or wino_conv's) FLOPs, counted as the direct convolution's
-- for both, so GFLOP/s compare across algorithms; and the runtime call that
-- reads its weights with BatchNorm folded into w.
local function conv_flops(node, y)
  return 2 * y[1] * y[2] * y[3] * node.cout * (node.cin // node.groups) * node.k * node.k
end

local function load_conv(node)
  return string.format(
    "  TIMMC_TRY(timmc_load_conv(w, st, %q, %s, %s,\n      /*out_channels=*/%d, " ..
    "/*group_input_channels=*/%d, /*kernel=*/%d, /*bn_eps=*/%s));\n", node.weight,
    quote(node.bias), quote(node.bn), node.cout, node.cin // node.groups, node.k,
    util.float_repr(node.bn_eps))
end

function emitters.conv(node, ctx)
  local x, y = at(ctx, node.inputs[1]), at(ctx, node.output)
  local cin_g, cout_g = node.cin // node.groups, node.cout // node.groups
  ctx.flops = ctx.flops + conv_flops(node, y.shape)
  return load_conv(node) ..
    pixel_op(node, ctx, "convolution2d", conv_args(ctx, node.pad, { node.k, node.k }, node.stride,
             node.dilation, node.groups, cin_g, cout_g, x, y, "w->bias", clamp_min(node.act),
             "INFINITY"), x, y)
end

-- BatchNorm as a per-channel affine: a depthwise 1x1 convolution
function emitters.bn_act(node, ctx)
  local x, y = at(ctx, node.inputs[1]), at(ctx, node.output)
  local c = x.shape[4]
  return string.format("  TIMMC_TRY(timmc_load_bn_affine(w, st, %q, /*channels=*/%d, " ..
                       "/*bn_eps=*/%s));\n", node.bn, c, util.float_repr(node.bn_eps)) ..
    pixel_op(node, ctx, "convolution2d", conv_args(ctx, { 0, 0, 0, 0 }, { 1, 1 }, 1, 1, c, 1, 1,
             x, y, "w->bias", clamp_min(node.act), "INFINITY"), x, y)
end

function emitters.relu(node, ctx)
  return nc_op(node, ctx, "clamp_nc_f32", { { "output_min", "0.0f" }, { "output_max", "INFINITY" } },
               at(ctx, node.inputs[1]), at(ctx, node.output))
end

function emitters.copy(node, ctx)
  return nc_op(node, ctx, "copy_nc_x32", {}, at(ctx, node.inputs[1]), at(ctx, node.output))
end

function emitters.sigmoid(node, ctx)
  return nc_op(node, ctx, "sigmoid_nc_f32", {}, at(ctx, node.inputs[1]), at(ctx, node.output))
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

function emitters.maxpool(node, ctx)
  local x, y = at(ctx, node.inputs[1]), at(ctx, node.output)
  return pixel_op(node, ctx, "max_pooling2d",
                  pool_args(ctx, node.pad, node.k, node.k, node.stride, x, y, true), x, y)
end

function emitters.avgpool(node, ctx)
  local x, y = at(ctx, node.inputs[1]), at(ctx, node.output)
  local p, c = node.pad, x.shape[4]
  if node.count_include_pad then
    -- zeros of the padding count: a depthwise conv with weights 1/(k*k) does it
    return string.format("  TIMMC_TRY(timmc_const_kernel(w, %d, %sf));\n", c * node.k * node.k,
                         util.float_repr(1 / (node.k * node.k))) ..
      pixel_op(node, ctx, "convolution2d", conv_args(ctx, p, { node.k, node.k }, node.stride, 1, c,
               1, 1, x, y, "NULL", "-INFINITY", "INFINITY"), x, y)
  end
  -- XNNPACK leaves padding out of the average: count_include_pad=False
  return pixel_op(node, ctx, "average_pooling2d",
                  pool_args(ctx, p, node.k, node.k, node.stride, x, y, false), x, y)
end

local function binary(node, ctx, kind, a_shape, b_shape, b_ptr, act)
  local a, y = compact(ctx, node, node.inputs[1]), compact(ctx, node, node.output)
  return call("xnn_create_" .. kind .. "_nd_f32", {
    { "output_min", clamp_min(act) }, { "output_max", "INFINITY" }, { "flags", 0 }, op(ctx) }) ..
    check(node, "create") ..
    call("xnn_setup_" .. kind .. "_nd_f32", {
      opv(ctx), { "num_input1_dims", #a_shape },
      "(const size_t[]){" .. table.concat(a_shape, ", ") .. "}",
      { "num_input2_dims", #b_shape }, "(const size_t[]){" .. table.concat(b_shape, ", ") .. "}",
      { "input1", a.ptr }, { "input2", b_ptr }, { "output", y.ptr }, "threadpool" }) ..
    check(node, "setup")
end

function emitters.add(node, ctx)
  local x = ctx.model.tensors[node.inputs[1]].shape
  local n = x[1] * x[2] * x[3] * x[4]
  return binary(node, ctx, "add", { n }, { n }, compact(ctx, node, node.inputs[2]).ptr, node.act)
end

function emitters.scale(node, ctx)
  local x = ctx.model.tensors[node.inputs[1]].shape
  return binary(node, ctx, "multiply", { x[1], x[2] * x[3], x[4] }, { x[1], 1, x[4] },
                compact(ctx, node, node.inputs[2]).ptr)
end

function emitters.mul_const(node, ctx)
  local x = ctx.model.tensors[node.inputs[1]].shape
  ctx.consts[#ctx.consts + 1] = node.value
  return binary(node, ctx, "multiply", { x[1] * x[4] }, { 1 }, "const_" .. #ctx.consts)
end

function emitters.global_pool(node, ctx)
  local x, y = at(ctx, node.inputs[1]), at(ctx, node.output)
  local c = x.shape[4]
  if node.mode == "avg" then
    return call("xnn_create_global_average_pooling_nwc_f32", {
      { "channels", c }, { "input_stride", x.stride }, { "output_stride", y.stride },
      { "output_min", "-INFINITY" }, { "output_max", "INFINITY" }, { "flags", 0 }, op(ctx) }) ..
      check(node, "create") ..
      call("xnn_setup_global_average_pooling_nwc_f32", {
        opv(ctx), { "batch_size", x.shape[1] }, { "width", x.shape[2] * x.shape[3] },
        { "input", x.ptr }, { "output", y.ptr }, "threadpool" }) .. check(node, "setup")
  end
  if x.shape[2] * x.shape[3] == 1 then -- the max of one pixel is a copy
    return nc_op(node, ctx, "copy_nc_x32", {}, x, y)
  end
  return pixel_op(node, ctx, "max_pooling2d",
                  pool_args(ctx, { 0, 0, 0, 0 }, x.shape[2], x.shape[3], 1, x, y, true), x, y)
end

function emitters.eca_conv(node, ctx)
  local x, y = compact(ctx, node, node.inputs[1]), compact(ctx, node, node.output)
  local pad = (node.k - 1) // 2
  -- the pooled [N, C] vector is read as an N x 1 x C image of one channel
  local xi = { ptr = x.ptr, stride = 1, shape = { x.shape[1], 1, x.shape[4], 1 } }
  local yi = { ptr = y.ptr, stride = 1 }
  return string.format("  TIMMC_TRY(timmc_load_conv1d(w, st, %q, /*kernel=*/%d));\n",
                       node.weight, node.k) ..
    pixel_op(node, ctx, "convolution2d", conv_args(ctx, { 0, pad, 0, pad }, { 1, node.k }, 1, 1, 1,
             1, 1, xi, yi, "NULL", "-INFINITY", "INFINITY"), xi, yi)
end

function emitters.linear(node, ctx)
  local x, y = at(ctx, node.inputs[1]), at(ctx, node.output)
  local gate = node.gate == "hard_sigmoid"
  ctx.flops = ctx.flops + 2 * x.shape[1] * node.cin * node.in_repeat * node.cout
  return string.format("  TIMMC_TRY(timmc_load_linear(w, st, %q, %q, %s,\n      " ..
                       "/*out_features=*/%d, /*in_features=*/%d, /*weight_ndim=*/%d, " ..
                       "/*in_repeat=*/%d, /*hard_sigmoid=*/%d, /*bn_eps=*/%s));\n", node.weight,
                       node.bias, quote(node.bn), node.cout, node.cin, node.weight_ndim,
                       node.in_repeat, gate and 1 or 0, util.float_repr(node.bn_eps)) ..
    call("xnn_create_fully_connected_nc_f32", {
      { "input_channels", node.cin * node.in_repeat }, { "output_channels", node.cout },
      { "input_stride", x.stride }, { "output_stride", y.stride }, "w->kernel", "w->bias",
      { "output_min", gate and "0.0f" or clamp_min(node.act) },
      { "output_max", gate and "1.0f" or "INFINITY" }, { "flags", 0 }, op(ctx) }) ..
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

function emitters.rsoftmax(node, ctx)
  local x, y = compact(ctx, node, node.inputs[1]), compact(ctx, node, node.output)
  return kernel(ctx, "timmc_kernel_rsoftmax", x.ptr, "NULL", y.ptr,
                { "/*batch=*/" .. x.shape[1], "/*radix=*/" .. node.radix,
                  "/*groups=*/" .. node.groups,
                  "/*rest=*/" .. x.shape[4] // (node.radix * node.groups) })
end

function emitters.radix_sum(node, ctx)
  local x, y = compact(ctx, node, node.inputs[1]), compact(ctx, node, node.output)
  local a = compact(ctx, node, node.inputs[2])
  return kernel(ctx, "timmc_kernel_radix_sum", x.ptr, a.ptr, y.ptr,
                { "/*batch=*/" .. x.shape[1], "/*pixels=*/" .. x.shape[2] * x.shape[3],
                  "/*radix=*/" .. node.radix, "/*channels=*/" .. y.shape[4] })
end

-- Winograd F(4x4, 3x3) (the winograd pass): a runtime kernel that runs
-- XNNPACK's grouped 1x1 convolution between its transforms, block by block
function emitters.wino_conv(node, ctx)
  local x, y = at(ctx, node.inputs[1]), at(ctx, node.output)
  local v, m = at(ctx, node.work[1]), at(ctx, node.work[2])
  local cin_g, cout_g = node.cin // node.groups, node.cout // node.groups
  ctx.flops = ctx.flops + conv_flops(node, y.shape)
  local bias = string.format("wino_bias + %d", ctx.wino_bias)
  ctx.wino_bias = ctx.wino_bias + node.cout
  return load_conv(node) ..
    string.format("  TIMMC_TRY(timmc_wino_weights(w, /*out_channels=*/%d, " ..
                  "/*group_input_channels=*/%d, %s));\n", node.cout, cin_g, bias) ..
    pixel_op(node, ctx, "convolution2d",
             conv_args(ctx, { 0, 0, 0, 0 }, { 1, 1 }, 1, 1, POSITIONS * node.groups, cin_g,
                       cout_g, v, m, "NULL", "-INFINITY", "INFINITY"), v, m) ..
    string.format("  ops[%d] = (timmc_op){.xnn = ops[%d].xnn, .kernel = timmc_kernel_wino,\n" ..
                  "      .a = %s, .b = %s, .y = %s,\n      .work = {%s, %s},\n" ..
                  "      .dims = {/*batch=*/%d, /*height=*/%d, /*width=*/%d, " ..
                  "/*in_channels=*/%d, /*out_channels=*/%d,\n               " ..
                  "/*in_stride=*/%d, /*out_stride=*/%d, " ..
                  "/*dilation=*/%d, /*relu=*/%d, /*block=*/%d}};\n",
                  ctx.op, ctx.op, x.ptr, bias, y.ptr, v.ptr, m.ptr, x.shape[1], x.shape[2],
                  x.shape[3], node.cin, node.cout, x.stride, y.stride, node.dilation,
                  node.act == "relu" and 1 or 0, node.block)
end

-- One-line summary of a node for the section heading.
local function summary(node, ctx)
  local x, y = ctx.model.tensors[node.inputs[1]].shape, ctx.model.tensors[node.output].shape
  local s
  if node.kind == "conv" or node.kind == "wino_conv" then
    s = string.format("conv %dx%d %d->%d s%d", node.k, node.k, node.cin, node.cout, node.stride)
    if node.dilation > 1 then s = s .. " d" .. node.dilation end
    if node.groups > 1 then s = s .. " g" .. node.groups end
    if node.bn then s = s .. ", " .. node.bn .. " folded" end
    if node.kind == "wino_conv" then
      s = s .. string.format(", Winograd F(4x4,3x3) over %d tiles", node.tiles)
      if node.block < node.tiles then s = s .. string.format(" in blocks of %d", node.block) end
    end
  elseif node.kind == "maxpool" or node.kind == "avgpool" then
    s = string.format("%s %dx%d s%d", node.kind, node.k, node.k, node.stride)
    if node.same_pad then s = s .. " same" end
  elseif node.kind == "global_pool" then
    s = "global " .. node.mode .. " pool"
  elseif node.kind == "bn_act" then
    s = "batchnorm " .. node.bn .. " as a per-channel affine"
  elseif node.kind == "linear" then
    s = string.format("linear %d->%d", node.cin * node.in_repeat, node.cout)
    if node.in_repeat > 1 then s = s .. string.format(" (summing %d slices)", node.in_repeat) end
    if node.bn then s = s .. ", " .. node.bn .. " folded" end
    if node.gate then s = s .. ", " .. node.gate .. " folded" end
  elseif node.kind == "rsoftmax" or node.kind == "radix_sum" then
    s = string.format("%s radix %d", node.kind, node.radix)
  elseif node.kind == "eca_conv" then
    s = string.format("eca conv1d k%d over channels", node.k)
  elseif node.kind == "scale" then
    s = "x * gate"
  elseif node.kind == "mul_const" then
    s = "x * " .. util.float_repr(node.value)
  else
    s = node.kind
  end
  if node.act then s = s .. ", " .. node.act end
  local into = ""
  local root, offset = ir.root(ctx.model, node.output)
  if root.id ~= node.output then
    into = string.format(" (channels %d.. of %s)", offset, root.name)
  end
  return string.format("%s: %s; %s -> %s%s", node.name, s, dims(x), dims(y), into)
end

-- The shape timm gives a tensor: [N, C] for pooled vectors, else NCHW.
local function nchw(t)
  local s = t.shape
  if t.flat then return { s[1], s[4] } end
  return { s[1], s[4], s[2], s[3] }
end

local function output_entry(model, o)
  local t = model.tensors[o.tensor]
  local s = nchw(t)
  local full = { 0, 0, 0, 0 }
  for i, v in ipairs(s) do full[i] = v end
  return string.format("    {{%q, %d, %d, %d, %d}, %d, {%s}},\n", o.module, t.shape[4],
                       t.reduction, t.shape[2], t.shape[3], #s, table.concat(full, ", ")), s
end

local function transpose_out(model, id, dst)
  local t = model.tensors[id]
  return string.format("  timmc_nhwc_to_nchw(arena + %d, %s, %d, %d, %d);\n", t.offset // 4, dst,
                       t.shape[1], t.shape[2] * t.shape[3], t.shape[4])
end

local function describe(model)
  local spec = model.spec
  local parts = {}
  if spec.features_only then
    parts[#parts + 1] = "features_only out_indices (" .. table.concat(spec.out_indices, ", ") .. ")"
  else
    parts[#parts + 1] = string.format("num_classes %d, global_pool '%s'", spec.num_classes,
                                      spec.global_pool)
  end
  parts[#parts + 1] = "output_stride " .. spec.output_stride
  parts[#parts + 1] = string.format("batch %d, input %s", spec.batch_size, dims(spec.input_size))
  return table.concat(parts, ", ")
end

function emit.run(model, templates)
  local spec, T = model.spec, model.tensors
  local name = spec.name
  local ctx = { model = model, flops = 0, consts = {}, wino_bias = 0 }

  local create, op_names = {}, {}
  for i, node in ipairs(model.nodes) do
    local fn = emitters[node.kind] or error("emit_c: no emitter for node kind " .. node.kind)
    ctx.op = i - 1
    create[#create + 1] = "\n  /* " .. summary(node, ctx) .. " */\n" .. fn(node, ctx)
    op_names[#op_names + 1] = string.format("    %q,\n", node.name)
  end

  -- memory plan table: every buffer, then what shares it (in place, or a view)
  local rows = {}
  if (model.plan.winograd_reverted or 0) > 0 then
    rows[1] = string.format(" * %d Winograd layers left direct to fit max_arena_bytes (%d).",
                            model.plan.winograd_reverted, spec.max_arena_bytes)
  end
  rows[#rows + 1] = string.format(" * %-6s %-30s %-20s %10s %10s  %s", "tensor", "timm module",
                                  "shape (NHWC)", "bytes", "offset", "live")
  local planned = {}
  for _, it in ipairs(model.plan.items) do planned[#planned + 1] = T[it.id] end
  table.sort(planned, function(a, b)
    return a.first < b.first or (a.first == b.first and a.id < b.id)
  end)
  local sharing = {}
  for _, t in ipairs(T) do
    local owner = t.alias or t.base
    if owner and t.shape then
      sharing[owner] = sharing[owner] or {}
      table.insert(sharing[owner], t)
    end
  end
  local function add_rows(t, indent)
    for _, u in ipairs(sharing[t.id] or {}) do
      local how = u.alias and "in place" or string.format("view at channel %d", u.chan_offset)
      rows[#rows + 1] = string.format(" * %-6s %-30s %-20s %10s %10s  %s", indent .. "t" .. u.id,
                                      u.name, dims(u.shape), "", "", how)
      add_rows(u, indent .. " ")
    end
  end
  for _, t in ipairs(planned) do
    rows[#rows + 1] = string.format(" * %-6s %-30s %-20s %10d %10d  %d..%d", "t" .. t.id, t.name,
                                    dims(t.shape), t.bytes, t.offset, t.first, t.last)
    add_rows(t, " ")
  end

  -- state dict table, weight bytes read
  local sd = {}
  local read = {}
  for _, node in ipairs(model.nodes) do
    for _, k in ipairs({ "weight", "bias" }) do if node[k] then read[node[k]] = true end end
    if node.bn then
      for _, k in ipairs({ "weight", "bias", "running_mean", "running_var" }) do
        read[node.bn .. "." .. k] = true
      end
    end
  end
  local weights_bytes = 0
  for _, p in ipairs(model.state_dict) do
    local full = { 0, 0, 0, 0 }
    for i, v in ipairs(p.shape) do full[i] = v end
    sd[#sd + 1] = string.format("    {%q, %d, {%s}, TIMMC_INIT_%s},\n", p.name, #p.shape,
                                table.concat(full, ", "), p.init:upper())
    if read[p.name] then weights_bytes = weights_bytes + util.prod(p.shape) * 4 end
  end

  -- outputs
  local fi, outs, defines, fwd_out = {}, {}, {}, {}
  for i, o in ipairs(model.outputs) do
    local t = T[o.tensor]
    local line, s = output_entry(model, o)
    outs[#outs + 1] = line
    fi[#fi + 1] = string.format("    {%q, %d, %d, %d, %d},\n", o.module, t.shape[4], t.reduction,
                                t.shape[2], t.shape[3])
    local N = name:upper()
    defines[#defines + 1] = string.format("#define %s_OUTPUT%d_SIZE %d /* %s: %s */", N, i - 1,
                                          util.prod(s), o.module, dims(s))
    fwd_out[#fwd_out + 1] = transpose_out(model, o.tensor, "out[" .. (i - 1) .. "]")
  end

  local entries, entry_decls, entry_outputs = "", "", ""
  local features_ref, pre_logits_ref, ff_ref, fh_ref = "NULL", "NULL", "NULL", "NULL"
  if not spec.features_only then
    -- forward_features ends with the last node writing the backbone's output,
    -- forward_head(pre_logits) with the last one writing the pooled vector
    local e = { features_last = 0 }
    for i, node in ipairs(model.nodes) do
      local r = ir.root(model, node.output).id
      if r == model.backbone_out then e.features_last = i end
      if r == model.head.pool then e.pool_last = i end
    end
    e.pool_last = e.pool_last or e.features_last
    local bo = T[model.backbone_out]
    local feat_line = output_entry(model, { tensor = model.backbone_out, module = bo.name })
    local pool_id = model.head.pool or model.backbone_out
    local pool_line = output_entry(model, { tensor = pool_id,
                                            module = model.head.pool_name or bo.name })
    entry_outputs = "\nstatic const timmc_output features_output =\n" ..
                    feat_line:gsub(",\n$", ";\n") ..
                    "static const timmc_output pre_logits_output =\n" ..
                    pool_line:gsub(",\n$", ";\n")
    features_ref, pre_logits_ref = "&features_output", "&pre_logits_output"
    ff_ref, fh_ref = name .. "_forward_features", name .. "_forward_head"
    entry_decls = string.format(
      "/* forward_features: output [%s] NCHW. */\n" ..
      "int %s_forward_features(const float *input, float *output);\n" ..
      "/* forward_head: features as forward_features returns them; pre_logits stops\n" ..
      " * after global_pool. */\n" ..
      "int %s_forward_head(const float *features, float *output, int pre_logits);\n",
      table.concat(nchw(bo), ", "), name, name)
    entries = string.format([[

int %s_forward_features(const float *input, float *output) {
  int rc;
  if (!ready) return timmc_fail(TIMMC_EINPUT, "%s: forward_features before init");
  timmc_nchw_to_nhwc(input, arena + %d, %d, %d, %d);
  rc = run_ops(0, %d);
  if (rc != TIMMC_OK) return rc;
%s  return TIMMC_OK;
}

int %s_forward_head(const float *features, float *output, int pre_logits) {
  int rc;
  if (!ready) return timmc_fail(TIMMC_EINPUT, "%s: forward_head before init");
  timmc_nchw_to_nhwc(features, arena + %d, %d, %d, %d);
  rc = run_ops(%d, pre_logits ? %d : NUM_OPS);
  if (rc != TIMMC_OK) return rc;
  if (pre_logits) {
  %s    return TIMMC_OK;
  }
%s  return TIMMC_OK;
}
]], name, name, T[model.input].offset // 4, spec.batch_size, spec.input_size[1],
      spec.input_size[2] * spec.input_size[3], e.features_last,
      transpose_out(model, model.backbone_out, "output"),
      name, name, bo.offset // 4, bo.shape[1], bo.shape[4], bo.shape[2] * bo.shape[3],
      e.features_last, e.pool_last, transpose_out(model, pool_id, "output"),
      transpose_out(model, model.outputs[1].tensor, "output"))
  end

  local consts = {}
  if ctx.wino_bias > 0 then
    consts[1] = string.format("static float wino_bias[%d]; /* Winograd convolutions' biases */\n",
                              ctx.wino_bias)
  end
  for i, v in ipairs(ctx.consts) do
    consts[#consts + 1] = string.format(
      "static const float const_%d[1 + XNN_EXTRA_BYTES / sizeof(float)] = {%sf};\n", i,
      util.float_repr(v))
  end

  -- embed_weights: the checkpoint linked in by the assembler (.incbin), no C array
  local embedded, embedded_decl, init_embedded_ref = "", "", "NULL"
  if spec.embed_weights then
    embedded = string.format([[
/* The weights, %s, are part of this object file: the assembler includes the
 * file (.incbin; compile with -Wa,-I<the spec's folder>, as timmc build does). */
__asm__(".section .rodata\n"
        ".balign 64\n"
        "%s_weights_begin:\n"
        ".incbin \"%s\"\n"
        "%s_weights_end:\n"
        ".previous\n");
extern const unsigned char %s_weights_begin[], %s_weights_end[];

int %s_init_embedded(void) {
  return init_from(%s_weights_begin, (size_t)(%s_weights_end - %s_weights_begin), %q, 0);
}

]], spec.embed_weights, name, spec.embed_weights, name, name, name, name, name, name, name,
      spec.embed_weights)
    embedded_decl = string.format("/* Reads the weights linked into the binary (%s). */\n" ..
                                  "int %s_init_embedded(void);\n", spec.embed_weights, name)
    init_embedded_ref = name .. "_init_embedded"
  end

  -- the holes both templates have, then each one's own
  local N = name:upper()
  local model_summary = describe(model)
  local function holes(own)
    local t = {
      name = name, NAME = N, spec_path = spec.spec_path, architecture = spec.architecture,
      summary = model_summary, input_n = spec.batch_size, input_c = spec.input_size[1],
      input_h = spec.input_size[2], input_w = spec.input_size[3],
      arena_bytes = model.plan.arena_bytes,
    }
    for k, v in pairs(own) do t[k] = v end
    return t
  end
  local h = util.render(templates.h, holes({
    guard = N .. "_H", input_size = util.prod(spec.input_size) * spec.batch_size,
    num_outputs = #model.outputs, output_defines = table.concat(defines, "\n"),
    entry_decls = entry_decls, embedded_decl = embedded_decl,
  }), "templates/model.h.in")
  local c = util.render(templates.c, holes({
    lower_bound_bytes = model.plan.lower_bound_bytes, end_index = #model.nodes + 1,
    plan_table = table.concat(rows, "\n") .. "\n",
    arena_floats = model.plan.arena_bytes // 4, num_ops = #model.nodes,
    op_names = table.concat(op_names), state_dict = table.concat(sd),
    feature_info = table.concat(fi), outputs = table.concat(outs),
    entry_outputs = entry_outputs .. table.concat(consts),
    create = table.concat(create), input_offset = T[model.input].offset // 4,
    input_hw = spec.input_size[2] * spec.input_size[3],
    forward_outputs = table.concat(fwd_out), entries = entries,
    features_only = spec.features_only and 1 or 0, features_ref = features_ref,
    pre_logits_ref = pre_logits_ref, weights_bytes = weights_bytes,
    flops = util.float_repr(ctx.flops * 1.0), forward_features_ref = ff_ref,
    forward_head_ref = fh_ref, embedded = embedded, init_embedded_ref = init_embedded_ref,
  }), "templates/model.c.in")
  model.c_header, model.c_source = h, c
  return model
end

return emit
