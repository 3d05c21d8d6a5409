-- emit_c: prints the IR as C through templates/model.{h,c}.in. One emitter per
-- node kind creates its XNNPACK operator (weights read and folded by the
-- runtime) and binds it to its arena slots, so forward only runs operators.
local util = require("util")

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

-- ctx: model, tensor lookup, op index of the node
local function ptr(ctx, id, channel_offset)
  local t = ctx.model.tensors[id]
  return string.format("arena + %d", t.offset // 4 + (channel_offset or 0))
end

local function shape_of(ctx, id) return ctx.model.tensors[id].shape end

function emitters.conv(node, ctx)
  local x, y = shape_of(ctx, node.inputs[1]), shape_of(ctx, node.output)
  local p = node.pad
  local cin_g, cout_g = node.cin // node.groups, node.cout // node.groups
  local out = {}
  out[#out + 1] = string.format(
    "  TIMMC_TRY(timmc_load_conv(w, st, %q, %s, %s,\n      /*out_channels=*/%d, " ..
    "/*group_input_channels=*/%d, /*kernel=*/%d));\n", node.weight,
    node.bias and string.format("%q", node.bias) or "NULL",
    node.bn and string.format("%q", node.bn) or "NULL", node.cout, cin_g, node.k)
  out[#out + 1] = call("xnn_create_convolution2d_nhwc_f32", {
    { "input_padding_top", p[1] }, { "input_padding_right", p[2] },
    { "input_padding_bottom", p[3] }, { "input_padding_left", p[4] },
    { "kernel_height", node.k }, { "kernel_width", node.k },
    { "subsampling_height", node.stride }, { "subsampling_width", node.stride },
    { "dilation_height", node.dilation }, { "dilation_width", node.dilation },
    { "groups", node.groups }, { "group_input_channels", cin_g },
    { "group_output_channels", cout_g }, { "input_channel_stride", node.cin },
    { "output_channel_stride", node.cout }, "w->kernel", "w->bias",
    { "output_min", clamp_min(node.act) }, { "output_max", "INFINITY" }, { "flags", 0 },
    "&ops[" .. ctx.op .. "]" })
  out[#out + 1] = check(node, "create")
  out[#out + 1] = call("xnn_setup_convolution2d_nhwc_f32", {
    "ops[" .. ctx.op .. "]", { "batch_size", x[1] }, { "input_height", x[2] },
    { "input_width", x[3] }, { "input", ptr(ctx, node.inputs[1]) },
    { "output", ptr(ctx, node.output) }, "threadpool" })
  out[#out + 1] = check(node, "setup")
  ctx.flops = ctx.flops + 2 * y[1] * y[2] * y[3] * node.cout * cin_g * node.k * node.k
  return table.concat(out)
end

function emitters.maxpool(node, ctx)
  local x = shape_of(ctx, node.inputs[1])
  local p = node.pad
  return call("xnn_create_max_pooling2d_nhwc_f32", {
    { "input_padding_top", p[1] }, { "input_padding_right", p[2] },
    { "input_padding_bottom", p[3] }, { "input_padding_left", p[4] },
    { "pooling_height", node.k }, { "pooling_width", node.k },
    { "stride_height", node.stride }, { "stride_width", node.stride },
    { "dilation_height", 1 }, { "dilation_width", 1 }, { "channels", x[4] },
    { "input_pixel_stride", x[4] }, { "output_pixel_stride", x[4] },
    { "output_min", "-INFINITY" }, { "output_max", "INFINITY" }, { "flags", 0 },
    "&ops[" .. ctx.op .. "]" }) .. check(node, "create") ..
    call("xnn_setup_max_pooling2d_nhwc_f32", {
      "ops[" .. ctx.op .. "]", { "batch_size", x[1] }, { "input_height", x[2] },
      { "input_width", x[3] }, { "input", ptr(ctx, node.inputs[1]) },
      { "output", ptr(ctx, node.output) }, "threadpool" }) .. check(node, "setup")
end

function emitters.avgpool(node, ctx)
  local x = shape_of(ctx, node.inputs[1])
  local p, c = node.pad, x[4]
  if node.count_include_pad then
    -- zeros of the padding count: a depthwise conv with weights 1/(k*k) does it
    return string.format("  TIMMC_TRY(timmc_const_kernel(w, %d, %sf));\n", c * node.k * node.k,
                         util.float_repr(1 / (node.k * node.k))) ..
      call("xnn_create_convolution2d_nhwc_f32", {
        { "input_padding_top", p[1] }, { "input_padding_right", p[2] },
        { "input_padding_bottom", p[3] }, { "input_padding_left", p[4] },
        { "kernel_height", node.k }, { "kernel_width", node.k },
        { "subsampling_height", node.stride }, { "subsampling_width", node.stride },
        { "dilation_height", 1 }, { "dilation_width", 1 }, { "groups", c },
        { "group_input_channels", 1 }, { "group_output_channels", 1 },
        { "input_channel_stride", c }, { "output_channel_stride", c }, "w->kernel", "NULL",
        { "output_min", "-INFINITY" }, { "output_max", "INFINITY" }, { "flags", 0 },
        "&ops[" .. ctx.op .. "]" }) .. check(node, "create") ..
      call("xnn_setup_convolution2d_nhwc_f32", {
        "ops[" .. ctx.op .. "]", { "batch_size", x[1] }, { "input_height", x[2] },
        { "input_width", x[3] }, { "input", ptr(ctx, node.inputs[1]) },
        { "output", ptr(ctx, node.output) }, "threadpool" }) .. check(node, "setup")
  end
  -- XNNPACK leaves padding out of the average: count_include_pad=False
  return call("xnn_create_average_pooling2d_nhwc_f32", {
    { "input_padding_top", p[1] }, { "input_padding_right", p[2] },
    { "input_padding_bottom", p[3] }, { "input_padding_left", p[4] },
    { "pooling_height", node.k }, { "pooling_width", node.k },
    { "stride_height", node.stride }, { "stride_width", node.stride }, { "channels", c },
    { "input_pixel_stride", c }, { "output_pixel_stride", c },
    { "output_min", "-INFINITY" }, { "output_max", "INFINITY" }, { "flags", 0 },
    "&ops[" .. ctx.op .. "]" }) .. check(node, "create") ..
    call("xnn_setup_average_pooling2d_nhwc_f32", {
      "ops[" .. ctx.op .. "]", { "batch_size", x[1] }, { "input_height", x[2] },
      { "input_width", x[3] }, { "input", ptr(ctx, node.inputs[1]) },
      { "output", ptr(ctx, node.output) }, "threadpool" }) .. check(node, "setup")
end

local function binary(node, ctx, op, a_shape, b_shape, b_ptr, act)
  return call("xnn_create_" .. op .. "_nd_f32", {
    { "output_min", clamp_min(act) }, { "output_max", "INFINITY" }, { "flags", 0 },
    "&ops[" .. ctx.op .. "]" }) .. check(node, "create") ..
    call("xnn_setup_" .. op .. "_nd_f32", {
      "ops[" .. ctx.op .. "]", { "num_input1_dims", #a_shape },
      "(const size_t[]){" .. table.concat(a_shape, ", ") .. "}",
      { "num_input2_dims", #b_shape }, "(const size_t[]){" .. table.concat(b_shape, ", ") .. "}",
      { "input1", ptr(ctx, node.inputs[1]) }, { "input2", b_ptr },
      { "output", ptr(ctx, node.output) }, "threadpool" }) .. check(node, "setup")
end

function emitters.add(node, ctx)
  local x = shape_of(ctx, node.inputs[1])
  local n = x[1] * x[2] * x[3] * x[4]
  return binary(node, ctx, "add", { n }, { n }, ptr(ctx, node.inputs[2]), node.act)
end

function emitters.scale(node, ctx)
  local x = shape_of(ctx, node.inputs[1])
  return binary(node, ctx, "multiply", { x[1], x[2] * x[3], x[4] }, { x[1], 1, x[4] },
                ptr(ctx, node.inputs[2]))
end

function emitters.mul_const(node, ctx)
  local x = shape_of(ctx, node.inputs[1])
  ctx.consts[#ctx.consts + 1] = node.value
  return binary(node, ctx, "multiply", { x[1] * x[4] }, { 1 }, "const_" .. #ctx.consts)
end

function emitters.global_pool(node, ctx)
  local x = shape_of(ctx, node.inputs[1])
  local y = ctx.model.tensors[node.output]
  local c, cy = x[4], y.c
  local out = ptr(ctx, node.output, node.out_offset)
  if node.mode == "avg" or x[2] * x[3] == 1 then
    if node.mode == "avg" then
      return call("xnn_create_global_average_pooling_nwc_f32", {
        { "channels", c }, { "input_stride", c }, { "output_stride", cy },
        { "output_min", "-INFINITY" }, { "output_max", "INFINITY" }, { "flags", 0 },
        "&ops[" .. ctx.op .. "]" }) .. check(node, "create") ..
        call("xnn_setup_global_average_pooling_nwc_f32", {
          "ops[" .. ctx.op .. "]", { "batch_size", x[1] }, { "width", x[2] * x[3] },
          { "input", ptr(ctx, node.inputs[1]) }, { "output", out }, "threadpool" }) ..
        check(node, "setup")
    end
    -- the max of one pixel is a copy
    return call("xnn_create_copy_nc_x32", {
      { "channels", c }, { "input_stride", c }, { "output_stride", cy }, { "flags", 0 },
      "&ops[" .. ctx.op .. "]" }) .. check(node, "create") ..
      call("xnn_setup_copy_nc_x32", {
        "ops[" .. ctx.op .. "]", { "batch_size", x[1] }, { "input", ptr(ctx, node.inputs[1]) },
        { "output", out }, "threadpool" }) .. check(node, "setup")
  end
  return call("xnn_create_max_pooling2d_nhwc_f32", {
    { "input_padding_top", 0 }, { "input_padding_right", 0 }, { "input_padding_bottom", 0 },
    { "input_padding_left", 0 }, { "pooling_height", x[2] }, { "pooling_width", x[3] },
    { "stride_height", 1 }, { "stride_width", 1 }, { "dilation_height", 1 },
    { "dilation_width", 1 }, { "channels", c }, { "input_pixel_stride", c },
    { "output_pixel_stride", cy }, { "output_min", "-INFINITY" }, { "output_max", "INFINITY" },
    { "flags", 0 }, "&ops[" .. ctx.op .. "]" }) .. check(node, "create") ..
    call("xnn_setup_max_pooling2d_nhwc_f32", {
      "ops[" .. ctx.op .. "]", { "batch_size", x[1] }, { "input_height", x[2] },
      { "input_width", x[3] }, { "input", ptr(ctx, node.inputs[1]) }, { "output", out },
      "threadpool" }) .. check(node, "setup")
end

function emitters.eca_conv(node, ctx)
  local x = shape_of(ctx, node.inputs[1])
  local pad = (node.k - 1) // 2
  -- the pooled [N, C] vector is read as an N x 1 x C image of one channel
  return string.format("  TIMMC_TRY(timmc_load_conv1d(w, st, %q, /*kernel=*/%d));\n",
                       node.weight, node.k) ..
    call("xnn_create_convolution2d_nhwc_f32", {
      { "input_padding_top", 0 }, { "input_padding_right", pad }, { "input_padding_bottom", 0 },
      { "input_padding_left", pad }, { "kernel_height", 1 }, { "kernel_width", node.k },
      { "subsampling_height", 1 }, { "subsampling_width", 1 }, { "dilation_height", 1 },
      { "dilation_width", 1 }, { "groups", 1 }, { "group_input_channels", 1 },
      { "group_output_channels", 1 }, { "input_channel_stride", 1 },
      { "output_channel_stride", 1 }, "w->kernel", "NULL", { "output_min", "-INFINITY" },
      { "output_max", "INFINITY" }, { "flags", 0 }, "&ops[" .. ctx.op .. "]" }) ..
    check(node, "create") ..
    call("xnn_setup_convolution2d_nhwc_f32", {
      "ops[" .. ctx.op .. "]", { "batch_size", x[1] }, { "input_height", 1 },
      { "input_width", x[4] }, { "input", ptr(ctx, node.inputs[1]) },
      { "output", ptr(ctx, node.output) }, "threadpool" }) .. check(node, "setup")
end

function emitters.sigmoid(node, ctx)
  local x = shape_of(ctx, node.inputs[1])
  return call("xnn_create_sigmoid_nc_f32", {
    { "channels", x[4] }, { "input_stride", x[4] }, { "output_stride", x[4] }, { "flags", 0 },
    "&ops[" .. ctx.op .. "]" }) .. check(node, "create") ..
    call("xnn_setup_sigmoid_nc_f32", {
      "ops[" .. ctx.op .. "]", { "batch_size", x[1] * x[2] * x[3] },
      { "input", ptr(ctx, node.inputs[1]) }, { "output", ptr(ctx, node.output) },
      "threadpool" }) .. check(node, "setup")
end

function emitters.linear(node, ctx)
  local x = shape_of(ctx, node.inputs[1])
  ctx.flops = ctx.flops + 2 * x[1] * node.cin * node.cout
  return string.format("  TIMMC_TRY(timmc_load_linear(w, st, %q, %q,\n      /*out_features=*/%d, " ..
                       "/*in_features=*/%d, /*weight_ndim=*/%d));\n", node.weight, node.bias,
                       node.cout, node.cin, node.weight_ndim) ..
    call("xnn_create_fully_connected_nc_f32", {
      { "input_channels", node.cin }, { "output_channels", node.cout },
      { "input_stride", node.cin }, { "output_stride", node.cout }, "w->kernel", "w->bias",
      { "output_min", clamp_min(node.act) }, { "output_max", "INFINITY" }, { "flags", 0 },
      "&ops[" .. ctx.op .. "]" }) .. check(node, "create") ..
    call("xnn_setup_fully_connected_nc_f32", {
      "ops[" .. ctx.op .. "]", { "batch_size", x[1] }, { "input", ptr(ctx, node.inputs[1]) },
      { "output", ptr(ctx, node.output) }, "threadpool" }) .. check(node, "setup")
end

-- One-line summary of a node for the section heading.
local function summary(node, ctx)
  local x, y = shape_of(ctx, node.inputs[1]), shape_of(ctx, node.output)
  local s
  if node.kind == "conv" then
    s = string.format("conv %dx%d %d->%d s%d", node.k, node.k, node.cin, node.cout, node.stride)
    if node.dilation > 1 then s = s .. " d" .. node.dilation end
    if node.groups > 1 then s = s .. " g" .. node.groups end
    if node.bn then s = s .. ", " .. node.bn .. " folded" end
  elseif node.kind == "maxpool" or node.kind == "avgpool" then
    s = string.format("%s %dx%d s%d", node.kind, node.k, node.k, node.stride)
    if node.same_pad then s = s .. " same" end
  elseif node.kind == "global_pool" then
    s = "global " .. node.mode .. " pool"
    if node.out_offset > 0 then s = s .. " into channels " .. node.out_offset .. "+" end
  elseif node.kind == "linear" then
    s = string.format("linear %d->%d", node.cin, node.cout)
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
  return string.format("%s: %s; %s -> %s", node.name, s, dims(x), dims(y))
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
  local ctx = { model = model, flops = 0, consts = {} }

  local create, op_names = {}, {}
  for i, node in ipairs(model.nodes) do
    local fn = emitters[node.kind] or error("emit_c: no emitter for node kind " .. node.kind)
    ctx.op = i - 1
    create[#create + 1] = "\n  /* " .. summary(node, ctx) .. " */\n" .. fn(node, ctx)
    op_names[#op_names + 1] = string.format("    %q,\n", node.name)
  end

  -- memory plan table
  local rows = { string.format(" * %-28s %-20s %10s %10s  %s", "tensor", "shape (NHWC)", "bytes",
                               "offset", "live") }
  local planned = {}
  for _, it in ipairs(model.plan.items) do planned[#planned + 1] = T[it.id] end
  table.sort(planned, function(a, b) return a.first < b.first or (a.first == b.first and a.id < b.id) end)
  for _, t in ipairs(planned) do
    rows[#rows + 1] = string.format(" * %-28s %-20s %10d %10d  %d..%d", t.name, dims(t.shape),
                                    t.bytes, t.offset, t.first, t.last)
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
    local e = model.entries
    local bo = T[model.backbone_out]
    local feat_line = output_entry(model, { tensor = model.backbone_out, module = bo.name })
    local pool_id = model.head.pool or model.backbone_out
    local pool_line = output_entry(model, { tensor = pool_id,
                                            module = model.head.pool and "global_pool" or bo.name })
    entry_outputs = "\nstatic const timmc_output features_output =\n" ..
                    feat_line:gsub("^    ", "    "):gsub(",\n$", ";\n") ..
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
  for i, v in ipairs(ctx.consts) do
    consts[#consts + 1] = string.format(
      "static const float const_%d[1 + XNN_EXTRA_BYTES / sizeof(float)] = {%sf};\n", i,
      util.float_repr(v))
  end

  local N = name:upper()
  local vars = {
    name = name, NAME = N, spec_path = spec.spec_path, architecture = spec.architecture,
    summary = describe(model),
    input_n = spec.batch_size, input_c = spec.input_size[1], input_h = spec.input_size[2],
    input_w = spec.input_size[3], num_outputs = #model.outputs,
    arena_bytes = model.plan.arena_bytes,
  }
  local h = util.render(templates.h, {
    name = name, NAME = N, spec_path = spec.spec_path, architecture = spec.architecture,
    summary = vars.summary, guard = N .. "_H", input_n = vars.input_n, input_c = vars.input_c,
    input_h = vars.input_h, input_w = vars.input_w,
    input_size = util.prod(spec.input_size) * spec.batch_size, num_outputs = #model.outputs,
    output_defines = table.concat(defines, "\n"), arena_bytes = model.plan.arena_bytes,
    entry_decls = entry_decls,
  }, "templates/model.h.in")
  local c = util.render(templates.c, {
    name = name, NAME = N, spec_path = spec.spec_path, architecture = spec.architecture,
    summary = vars.summary, arena_bytes = model.plan.arena_bytes,
    lower_bound_bytes = model.plan.lower_bound_bytes, end_index = #model.nodes + 1,
    plan_table = table.concat(rows, "\n") .. "\n",
    arena_floats = model.plan.arena_bytes // 4, num_ops = #model.nodes,
    op_names = table.concat(op_names), state_dict = table.concat(sd),
    feature_info = table.concat(fi), outputs = table.concat(outs),
    entry_outputs = entry_outputs .. table.concat(consts),
    create = table.concat(create), input_offset = T[model.input].offset // 4,
    input_n = vars.input_n, input_c = vars.input_c, input_h = vars.input_h,
    input_w = vars.input_w, input_hw = spec.input_size[2] * spec.input_size[3],
    forward_outputs = table.concat(fwd_out), entries = entries,
    features_only = spec.features_only and 1 or 0, features_ref = features_ref,
    pre_logits_ref = pre_logits_ref, weights_bytes = weights_bytes,
    flops = util.float_repr(ctx.flops * 1.0), forward_features_ref = ff_ref,
    forward_head_ref = fh_ref,
  }, "templates/model.c.in")
  model.c_header, model.c_source = h, c
  model.flops = ctx.flops
  return model
end

return emit
