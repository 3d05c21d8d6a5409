-- backends/portable.lua: the graph as plain C99 loops, one static function
-- per node with every shape, stride and padding a constant: no XNNPACK, no
-- threads, no heap and no file I/O in forward, libm only for the activations
-- that need it (expf, erff). It runs where XNNPACK does not (microcontrollers:
-- docs/portable.md) and gives the same numbers on every CPU built with
-- cmake/cflags.txt's flags (no FMA contraction).
--
-- The weights live in one packed float array in this backend's layout, BN
-- folded: conv [kh][kw][in/groups][out], linear [in][out], biases after
-- them. Each node's slice has an offset fixed here, at generation time, so
-- the same array comes either from a safetensors checkpoint at init
-- (runtime/timmc_portable.c folds into it) or from flash (NAME_weights.c,
-- `timmc weights`), with nothing left to pack.
--
-- Loops run NHWC with the channels innermost, so each pixel's update is one
-- vectorisable loop over contiguous output channels; sums run in a fixed
-- order (bias, then kernel row, column, input channel), the same on every
-- target. The backend table's fields are xnnpack.lua's.
local util = require("util")
local activations = require("activations")

local portable = {
  name = "portable",
  template = "templates/portable/model.c.in",
  align = 16,
  arena_tail = "0",
  passes = {},
  -- the host runner's links (runtime/timmc_runner.c uses timmc_rt.c's
  -- helpers, hence XNNPACK there); the model file itself uses only
  -- timmc_portable.c, timmc_err.c and, to init from a checkpoint, timmc_st.c
  sources = { "timmc_err", "timmc_file", "timmc_st", "timmc_npy", "timmc_rt", "timmc_wino",
              "timmc_gemm", "timmc_rand", "timmc_image", "timmc_png", "timmc_portable",
              "timmc_quant", "timmc_calib" },
  libs = "-lXNNPACK -lpthreadpool -lcjson -lm",
}

local emit = {} -- by node kind: node, ctx -> C run at init (its weights)

local function f(v) return util.float_repr(v + 0.0) .. "f" end

-- Weights: a slice of `count` floats of the packed array, its offset kept 4-aligned.
local function reserve(ctx, count)
  local at = ctx.packed
  ctx.packed = ctx.packed + (count + 3) // 4 * 4
  return at
end

local function quote(s) return s and string.format("%q", s) or "NULL" end

-- The statement that puts a fused clamp (relu, relu6) on v, or "".
local function clamp_stmt(act, v, indent)
  local c = act and activations[act].clamp
  if not c then return "" end
  local s = string.format("%s%s = %s < %s ? %s : %s;\n", indent, v, v, f(c[1]), f(c[1]), v)
  if c[2] ~= math.huge then
    s = s .. string.format("%s%s = %s > %s ? %s : %s;\n", indent, v, v, f(c[2]), f(c[2]), v)
  end
  return s
end

-- A node's forward function: its body with the tensors it names.
local function fn(ctx, node, body)
  local name = string.format("op_%d", ctx.op)
  if ctx.model.spec.reference then -- int8 calibration watches the outputs (timmc_calib.c)
    body = body .. string.format("  if (timmc_observe) timmc_observe(%d);\n", ctx.op)
  end
  ctx.fns[#ctx.fns + 1] = string.format("/* %s */\nstatic void %s(void) {\n%s}\n", node.name, name,
                                        body)
  return name
end

-- Pixel (n, h, w) of a tensor with that height, width and pixel stride.
local function pix(ptr, h, w, s, nv, hv, wv)
  return string.format("%s + ((%s * %d + %s) * %d + %s) * %d", ptr, nv, h, hv, w, wv, s)
end

-- The loops over output pixels around body, which sees yp (the output pixel)
-- and oh, ow; n too.
local function over_pixels(y, body)
  return string.format(
    "  for (int n = 0; n < %d; n++) {\n" ..
    "    for (int oh = 0; oh < %d; oh++) {\n" ..
    "      for (int ow = 0; ow < %d; ow++) {\n" ..
    "        float *const yp = %s;\n%s" ..
    "      }\n    }\n  }\n", y.shape[1], y.shape[2], y.shape[3],
    pix(y.ptr, y.shape[2], y.shape[3], y.stride, "n", "oh", "ow"), body)
end

-- The window loops of a k x k kernel (stride s, dilation d, padding top/left)
-- over x, skipping what falls in the padding; body sees xp (the input pixel),
-- kh and kw.
local function over_window(x, k, s, d, pad, body)
  return string.format(
    "        for (int kh = 0; kh < %d; kh++) {\n" ..
    "          const int ih = oh * %d - %d + kh * %d;\n" ..
    "          if (ih < 0 || ih >= %d) continue;\n" ..
    "          for (int kw = 0; kw < %d; kw++) {\n" ..
    "            const int iw = ow * %d - %d + kw * %d;\n" ..
    "            if (iw < 0 || iw >= %d) continue;\n" ..
    "            const float *const xp = %s;\n%s" ..
    "          }\n        }\n", k, s, pad[1], d, x.shape[2], k, s, pad[4], d, x.shape[3],
    pix(x.ptr, x.shape[2], x.shape[3], x.stride, "n", "ih", "iw"), body)
end

-- A convolution an output row at a time: for each tap (kh, kw) and input
-- channel, one row of weights (its output channels) serves every output
-- pixel of the row, so a layer's weights are read once a row instead of once
-- a pixel, and the padding is decided once a row (a depthwise one: each tap's
-- channels at a time). Each output gets its terms in one order: the bias,
-- then kh, kw, input channel; so do a pointwise one's, and the numbers are
-- the same on every target and loop order.
local function row_body(node, x, y, wo, bo)
  local cout, groups, k, s, d = node.cout, node.groups, node.k, node.stride, node.dilation
  local cin_g, cout_g = node.cin // groups, cout // groups
  local ow_n, pt, pl = y.shape[3], node.pad[1], node.pad[4]
  local init = bo and string.format("weights[%d + co]", bo) or "0.0f"
  local col = string.format("(ow * %d - %d + kw * %d) * %d", s, pl, d, x.stride)
  local update
  if cin_g == 1 and cout_g == 1 then -- depthwise: channel by channel
    update = string.format(
      "          for (int ow = lo; ow < hi; ow++) mac(%d, xr + %s, wk, yr + ow * %d);\n", cout,
      col, y.stride)
  elseif groups == 1 then
    update = string.format(
      "          for (int ci = 0; ci < %d; ci++) {\n" ..
      "            const float *const wp = wk + ci * %d;\n" ..
      "            for (int ow = lo; ow < hi; ow++) axpy(%d, xr[%s + ci], wp, yr + ow * %d);\n" ..
      "          }\n", cin_g, cout, cout, col, y.stride)
  else
    update = string.format(
      "          for (int g = 0; g < %d; g++) {\n" ..
      "            for (int ci = 0; ci < %d; ci++) {\n" ..
      "              const float *const wp = wk + ci * %d + g * %d;\n" ..
      "              for (int ow = lo; ow < hi; ow++) {\n" ..
      "                axpy(%d, xr[%s + g * %d + ci], wp, yr + ow * %d + g * %d);\n" ..
      "              }\n            }\n          }\n", groups, cin_g, cout, cout_g, cout_g, col,
      cin_g, y.stride, cout_g)
  end
  local clamp = clamp_stmt(node.act, "yp[co]", "          ")
  return string.format(
    "  for (int n = 0; n < %d; n++) {\n" ..
    "    for (int oh = 0; oh < %d; oh++) {\n" ..
    "      float *const yr = %s + (n * %d + oh) * %d;\n" ..
    "      for (int ow = 0; ow < %d; ow++) {\n" ..
    "        for (int co = 0; co < %d; co++) yr[ow * %d + co] = %s;\n" ..
    "      }\n" ..
    "      for (int kh = 0; kh < %d; kh++) {\n" ..
    "        const int ih = oh * %d - %d + kh * %d;\n" ..
    "        if (ih < 0 || ih >= %d) continue;\n" ..
    "        const float *const xr = %s + (n * %d + ih) * %d;\n" ..
    "        for (int kw = 0; kw < %d; kw++) {\n" ..
    "          /* the output columns whose input column is inside the image */\n" ..
    "          int lo = 0, hi = %d;\n" ..
    "          while (lo < hi && lo * %d - %d + kw * %d < 0) lo++;\n" ..
    "          while (hi > lo && (hi - 1) * %d - %d + kw * %d >= %d) hi--;\n" ..
    "          const float *const wk = weights + %d + (kh * %d + kw) * %d;\n" ..
    "%s        }\n      }\n%s    }\n  }\n",
    y.shape[1], y.shape[2], y.ptr, y.shape[2], ow_n * y.stride, ow_n, cout, y.stride, init,
    k, s, pt, d, x.shape[2], x.ptr, x.shape[2], x.shape[3] * x.stride, k, ow_n, s, pl, d, s, pl,
    d, x.shape[3], wo, k, cin_g * cout, update,
    clamp ~= "" and string.format(
      "      for (int ow = 0; ow < %d; ow++) {\n" ..
      "        float *const yp = yr + ow * %d;\n" ..
      "        for (int co = 0; co < %d; co++) {\n%s        }\n      }\n", ow_n, y.stride, cout,
      clamp) or "")
end

-- A pointwise convolution (1x1, stride 1, no padding, one group) is a matrix
-- product over the pixels: four pixels at a time share each weight row read,
-- each output summed in row_body's order (bias, then input channel by
-- input channel), so the numbers are the same.
local BLOCK = 4
local function pointwise_body(node, x, y, wo, bo)
  local cin, cout = node.cin, node.cout
  local pixels = y.shape[1] * y.shape[2] * y.shape[3]
  local function rows(fmt, sep)
    local r = {}
    for j = 0, BLOCK - 1 do r[#r + 1] = fmt:gsub("#", tostring(j)) end
    return table.concat(r, sep)
  end
  local init = bo and string.format("weights[%d + co]", bo) or "0.0f"
  local clamp = clamp_stmt(node.act, "y#[co]", "      ")
  local full = pixels - pixels % BLOCK
  local block = string.format(
    "  for (int p = 0; p < %d; p += %d) {\n" ..
    "%s" .. "%s" ..
    "    for (int co = 0; co < %d; co++) %s = %s;\n" ..
    "    for (int ci = 0; ci < %d; ci++) {\n" ..
    "      axpy4(%d, %s, weights + %d + ci * %d, %s);\n" ..
    "    }\n%s  }\n", full, BLOCK,
    rows(string.format("    float *restrict const y# = %s + (p + #) * %d;\n", y.ptr, y.stride), ""),
    rows(string.format("    const float *restrict const x# = %s + (p + #) * %d;\n", x.ptr,
                       x.stride), ""),
    cout, rows("y#[co]", " = "), init, cin, cout, rows("x#[ci]", ", "), wo, cout, rows("y#", ", "),
    clamp ~= "" and string.format("    for (int co = 0; co < %d; co++) {\n%s    }\n", cout,
                                  rows(clamp, "")) or "")
  if full == pixels then return block end
  local one = clamp_stmt(node.act, "yp[co]", "      ")
  return block .. string.format(
    "  for (int p = %d; p < %d; p++) {\n" ..
    "    float *restrict const yp = %s + p * %d;\n" ..
    "    const float *restrict const xp = %s + p * %d;\n" ..
    "    for (int co = 0; co < %d; co++) yp[co] = %s;\n" ..
    "    for (int ci = 0; ci < %d; ci++) {\n" ..
    "      axpy(%d, xp[ci], weights + %d + ci * %d, yp);\n" ..
    "    }\n%s  }\n", full, pixels, y.ptr, y.stride, x.ptr, x.stride, cout, init, cin, cout, wo,
    cout,
    one ~= "" and string.format("    for (int co = 0; co < %d; co++) {\n%s    }\n", cout, one)
    or "")
end

local function pointwise(node)
  local p = node.pad
  return node.k == 1 and node.stride == 1 and node.groups == 1 and
         p[1] == 0 and p[2] == 0 and p[3] == 0 and p[4] == 0
end

function emit.conv(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local cin_g = node.cin // node.groups
  local wo = reserve(ctx, node.k * node.k * cin_g * node.cout)
  local bo = (node.bias or node.bn) and reserve(ctx, node.cout) or nil
  local body = pointwise(node) and pointwise_body or row_body
  ctx.ops[#ctx.ops + 1] = fn(ctx, node, body(node, x, y, wo, bo))
  return string.format(
    "  TIMMC_TRY(timmc_pt_conv(st, packed + %d, %s, %q, %s, %s,\n      /*out_channels=*/%d, " ..
    "/*group_input_channels=*/%d, /*kernel=*/%d, /*bn_eps=*/%s));\n", wo,
    bo and ("packed + " .. bo) or "NULL", node.weight, quote(node.bias), quote(node.bn),
    node.cout, cin_g, node.k, util.float_repr(node.bn_eps))
end

-- Elementwise over the pixels p of y, channel innermost; body sees c and the
-- pointers named in ptrs: {name, tensor (its pixel p) or a C expression, writable}.
local function elementwise(y, ptrs, body)
  local decl = {}
  for _, p in ipairs(ptrs) do
    local at = type(p[2]) == "string" and p[2]
               or string.format("%s + p * %d", p[2].ptr, p[2].stride)
    decl[#decl + 1] = string.format("    %sfloat *const %s = %s;\n", p[3] and "" or "const ",
                                    p[1], at)
  end
  return string.format("  for (int p = 0; p < %d; p++) {\n%s" ..
                       "    for (int c = 0; c < %d; c++) {\n%s    }\n  }\n",
                       y.shape[1] * y.shape[2] * y.shape[3], table.concat(decl), y.shape[4], body)
end

function emit.bn_act(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local c = x.shape[4]
  local so, bo = reserve(ctx, c), reserve(ctx, c)
  ctx.ops[#ctx.ops + 1] = fn(ctx, node, elementwise(y, { { "xp", x }, { "yp", y, true } },
    string.format("      float v = xp[c] * weights[%d + c] + weights[%d + c];\n", so, bo) ..
    clamp_stmt(node.act, "v", "      ") .. "      yp[c] = v;\n"))
  return string.format("  TIMMC_TRY(timmc_pt_bn_affine(st, packed + %d, packed + %d, %q, " ..
                       "/*channels=*/%d, /*bn_eps=*/%s));\n", so, bo, node.bn, c,
                       util.float_repr(node.bn_eps))
end

function emit.act(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local a = activations[node.fn]
  local body
  if a.clamp then
    body = "      float x = xp[c];\n" .. clamp_stmt(node.fn, "x", "      ") .. "      yp[c] = x;\n"
  else
    body = string.format("      const float x = xp[c];\n      yp[c] = %s; /* %s */\n", a.c, a.timm)
  end
  ctx.ops[#ctx.ops + 1] = fn(ctx, node, elementwise(y, { { "xp", x }, { "yp", y, true } }, body))
  return ""
end

function emit.copy(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  ctx.ops[#ctx.ops + 1] = fn(ctx, node, elementwise(y, { { "xp", x }, { "yp", y, true } },
                                                    "      yp[c] = xp[c];\n"))
  return ""
end

function emit.maxpool(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local c = y.shape[4]
  ctx.ops[#ctx.ops + 1] = fn(ctx, node, over_pixels(y,
    string.format("        for (int c = 0; c < %d; c++) yp[c] = -INFINITY;\n", c) ..
    over_window(x, node.k, node.stride, 1, node.pad, string.format(
      "            for (int c = 0; c < %d; c++) yp[c] = xp[c] > yp[c] ? xp[c] : yp[c];\n", c))))
  return ""
end

-- The divisor of a window as PyTorch's avg_pool2d takes it: k*k when the
-- padding counts and is all inside the input plus its symmetric padding (or
-- was made of zeros, AvgPool2dSame); else the pixels of the window that
-- fall inside the input plus (count_include_pad) that padding.
function emit.avgpool(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local c, k, s = y.shape[4], node.k, node.stride
  local divisor
  if node.same_pad then
    divisor = string.format("        const float scale = %s;\n", f(1 / (k * k)))
  else
    local lo = node.count_include_pad and -node.padding or 0
    local hi_h = x.shape[2] + (node.count_include_pad and node.padding or 0)
    local hi_w = x.shape[3] + (node.count_include_pad and node.padding or 0)
    divisor = string.format(
      "        const int h0 = oh * %d - %d, w0 = ow * %d - %d;\n" ..
      "        const int h1 = h0 + %d < %d ? h0 + %d : %d, w1 = w0 + %d < %d ? w0 + %d : %d;\n" ..
      "        const int hs = h0 > %d ? h0 : %d, ws = w0 > %d ? w0 : %d;\n" ..
      "        const float scale = 1.0f / (float)((h1 - hs) * (w1 - ws));\n",
      s, node.pad[1], s, node.pad[4], k, hi_h, k, hi_h, k, hi_w, k, hi_w, lo, lo, lo, lo)
  end
  ctx.ops[#ctx.ops + 1] = fn(ctx, node, over_pixels(y,
    string.format("        for (int c = 0; c < %d; c++) yp[c] = 0.0f;\n", c) ..
    over_window(x, k, s, 1, node.pad, string.format(
      "            for (int c = 0; c < %d; c++) yp[c] += xp[c];\n", c)) .. divisor ..
    string.format("        for (int c = 0; c < %d; c++) yp[c] *= scale;\n", c)))
  return ""
end

function emit.add(node, ctx)
  local a, b, y = ctx.at(node.inputs[1]), ctx.at(node.inputs[2]), ctx.at(node.output)
  ctx.ops[#ctx.ops + 1] = fn(ctx, node, elementwise(y, { { "ap", a }, { "bp", b }, { "yp", y, true } },
    "      float v = ap[c] + bp[c];\n" .. clamp_stmt(node.act, "v", "      ") ..
    "      yp[c] = v;\n"))
  return ""
end

-- x * gate: the gate a pooled vector per batch item
function emit.scale(node, ctx)
  local x, g, y = ctx.at(node.inputs[1]), ctx.at(node.inputs[2]), ctx.at(node.output)
  local hw = y.shape[2] * y.shape[3]
  ctx.ops[#ctx.ops + 1] = fn(ctx, node, elementwise(y, {
    { "xp", x }, { "gp", string.format("%s + p / %d * %d", g.ptr, hw, g.stride) },
    { "yp", y, true } }, "      yp[c] = xp[c] * gp[c];\n"))
  return ""
end

function emit.mul_const(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  ctx.ops[#ctx.ops + 1] = fn(ctx, node, elementwise(y, { { "xp", x }, { "yp", y, true } },
    string.format("      yp[c] = xp[c] * %s;\n", f(node.value))))
  return ""
end

function emit.global_pool(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local c, hw = x.shape[4], x.shape[2] * x.shape[3]
  local first, step, last
  if node.mode == "avg" then
    first, step = "xp[c]", "yp[c] += xp[c];"
    last = string.format("    for (int c = 0; c < %d; c++) yp[c] *= %s;\n", c, f(1 / hw))
  else
    first, step, last = "xp[c]", "yp[c] = xp[c] > yp[c] ? xp[c] : yp[c];", ""
  end
  ctx.ops[#ctx.ops + 1] = fn(ctx, node, string.format(
    "  for (int n = 0; n < %d; n++) {\n" ..
    "    float *const yp = %s + n * %d;\n" ..
    "    const float *xp = %s + n * %d;\n" ..
    "    for (int c = 0; c < %d; c++) yp[c] = %s;\n" ..
    "    for (int p = 1; p < %d; p++) {\n" ..
    "      xp += %d;\n" ..
    "      for (int c = 0; c < %d; c++) %s\n" ..
    "    }\n%s  }\n", x.shape[1], y.ptr, y.stride, x.ptr, hw * x.stride, c, first, hw, x.stride,
    c, step, last))
  return ""
end

-- ECA: a 1-d convolution across the channels of a pooled vector, zero padded
function emit.eca_conv(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local c, k, pad = x.shape[4], node.k, (node.k - 1) // 2
  local wo = reserve(ctx, k)
  ctx.ops[#ctx.ops + 1] = fn(ctx, node, string.format(
    "  for (int n = 0; n < %d; n++) {\n" ..
    "    const float *const xp = %s + n * %d;\n" ..
    "    float *const yp = %s + n * %d;\n" ..
    "    for (int c = 0; c < %d; c++) {\n" ..
    "      float v = 0.0f;\n" ..
    "      for (int j = 0; j < %d; j++) {\n" ..
    "        const int i = c - %d + j;\n" ..
    "        if (i >= 0 && i < %d) v += weights[%d + j] * xp[i];\n" ..
    "      }\n      yp[c] = v;\n    }\n  }\n", x.shape[1], x.ptr, x.stride, y.ptr, y.stride, c, k,
    pad, c, wo))
  return string.format("  TIMMC_TRY(timmc_pt_conv1d(st, packed + %d, %q, /*kernel=*/%d));\n", wo,
                       node.weight, k)
end

-- nn.Linear on a pooled vector: y = b + sum over the in_repeat slices of x
-- times W ([in][out]); BN, hard_sigmoid (x/6 + 1/2, then clamped) folded in
function emit.linear(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local cin, cout = node.cin, node.cout
  local wo, bo = reserve(ctx, cin * cout), reserve(ctx, cout)
  local act = node.gate and "" or clamp_stmt(node.act, "yp[o]", "      ")
  if node.gate then
    act = "      yp[o] = yp[o] < 0.0f ? 0.0f : yp[o];\n      yp[o] = yp[o] > 1.0f ? 1.0f : yp[o];\n"
  end
  ctx.ops[#ctx.ops + 1] = fn(ctx, node, string.format(
    "  for (int n = 0; n < %d; n++) {\n" ..
    "    const float *const xp = %s + n * %d;\n" ..
    "    float *const yp = %s + n * %d;\n" ..
    "    for (int o = 0; o < %d; o++) yp[o] = weights[%d + o];\n" ..
    "    for (int i = 0; i < %d; i++) {\n" ..
    "      axpy(%d, xp[i], weights + %d + i %% %d * %d, yp);\n" ..
    "    }\n%s  }\n", x.shape[1], x.ptr, x.stride, y.ptr, y.stride, cout, bo, cin * node.in_repeat,
    cout, wo, cin, cout,
    act ~= "" and string.format("    for (int o = 0; o < %d; o++) {\n%s    }\n", cout, act) or ""))
  return string.format(
    "  TIMMC_TRY(timmc_pt_linear(st, packed + %d, packed + %d, %q, %q, %s,\n      " ..
    "/*out_features=*/%d, /*in_features=*/%d, /*weight_ndim=*/%d, /*hard_sigmoid=*/%d, " ..
    "/*bn_eps=*/%s));\n", wo, bo, node.weight, node.bias, quote(node.bn), cout, cin,
    node.weight_ndim, node.gate and 1 or 0, util.float_repr(node.bn_eps))
end

-- timm's RadixSoftmax: [groups][radix][rest] -> [radix][groups][rest], softmax over radix
function emit.rsoftmax(node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local r, g = node.radix, node.groups
  local rest = x.shape[4] // (r * g)
  ctx.ops[#ctx.ops + 1] = fn(ctx, node, string.format(
    "  for (int n = 0; n < %d; n++) {\n" ..
    "    const float *const xp = %s + n * %d;\n" ..
    "    float *const yp = %s + n * %d;\n" ..
    "    for (int g = 0; g < %d; g++) {\n" ..
    "      for (int j = 0; j < %d; j++) {\n" ..
    "        float max = -INFINITY, sum = 0.0f;\n" ..
    "        for (int r = 0; r < %d; r++) {\n" ..
    "          const float v = xp[(g * %d + r) * %d + j];\n" ..
    "          max = v > max ? v : max;\n" ..
    "        }\n" ..
    "        for (int r = 0; r < %d; r++) {\n" ..
    "          const float e = expf(xp[(g * %d + r) * %d + j] - max);\n" ..
    "          yp[(r * %d + g) * %d + j] = e;\n" ..
    "          sum += e;\n" ..
    "        }\n" ..
    "        for (int r = 0; r < %d; r++) yp[(r * %d + g) * %d + j] /= sum;\n" ..
    "      }\n    }\n  }\n", x.shape[1], x.ptr, x.stride, y.ptr, y.stride, g, rest, r, r, rest,
    r, r, rest, g, rest, r, g, rest))
  return ""
end

-- split attention: y = sum over r of x's r-th channel slice times a's
function emit.radix_sum(node, ctx)
  local x, a, y = ctx.at(node.inputs[1]), ctx.at(node.inputs[2]), ctx.at(node.output)
  local c, hw = y.shape[4], y.shape[2] * y.shape[3]
  local gate = string.format("%s + p / %d * %d", a.ptr, hw, a.stride)
  local body = "      float v = xp[c] * gp[c];\n"
  for r = 1, node.radix - 1 do
    body = body .. string.format("      v += xp[%d + c] * gp[%d + c];\n", r * c, r * c)
  end
  ctx.ops[#ctx.ops + 1] = fn(ctx, node, elementwise(y, { { "xp", x }, { "gp", gate },
                                                         { "yp", y, true } },
                                                    body .. "      yp[c] = v;\n"))
  return ""
end

portable.ops = {}
for kind, e in pairs(emit) do portable.ops[kind] = { emit = e, strided = true } end
-- a concat never reaches the emitter (place_concats makes views and copies)
portable.ops.concat = { strided = true }

-- int8 (backends/portable_int8.lua), hooked as xnnpack.lua hooks its own:
-- a node whose output the quantize pass made int8 takes the int8 form.
local int8 = require("backends.portable_int8")
local helpers = { fn = fn, float_repr = util.float_repr }
for kind, e in pairs(int8.emit) do
  local impl = portable.ops[kind] or { strided = true }
  local f32 = impl.emit
  impl.int8, impl.same_scale = int8.runs_int8, int8.same_scale
  impl.emit = function(node, ctx)
    if ctx.model.tensors[node.output].dtype == "qs8" or node.kind == "dequantize" then
      return e(helpers, node, ctx)
    end
    return f32(node, ctx)
  end
  portable.ops[kind] = impl
end

function portable.new_context(ctx)
  ctx.packed, ctx.fns, ctx.ops = 0, {}, {}
  int8.new_context(ctx)
end

portable.prologue = int8.prologue

-- The forward functions, their table, and the packed array's size.
function portable.declarations(ctx)
  local name = ctx.model.spec.name
  local linked = string.format("int %s_init_const(void) __attribute__((weak)); " ..
                               "/* %s_weights.c */\n#define INIT_EMBEDDED %s_init_const\n",
                               name, name, name)
  if ctx.model.spec.embed_weights then
    linked = string.format("int %s_init_embedded(void);\n#define INIT_EMBEDDED %s_init_embedded\n",
                           name, name)
  end
  local reference = ctx.model.spec.reference
                    and "#include \"timmc_quant.h\"\n#include \"timmc_rt.h\"\n" or ""
  return reference .. int8.declarations(ctx) ..
         string.format("#define PACKED_FLOATS %d /* the packed weights (floats) */\n" ..
                       "int %s_init_packed(const float *packed, size_t count);\n" ..
                       "const float *%s_packed_weights(size_t *count);\n%s\n%s\n" ..
                       "static void (*const op_fns[NUM_OPS])(void) = {\n    %s,\n};\n",
                       ctx.packed, name, name, linked, table.concat(ctx.fns, "\n"),
                       table.concat(ctx.ops, ",\n    "))
end

return portable
