-- backends/portable_int8.lua: the int8 forms of the portable backend's node
-- kinds (spec "precision": "int8", the quantize pass; docs/int8.md and
-- docs/portable.md). The same policy as the XNNPACK backend's
-- (xnnpack_int8.runs_int8 and same_scale), so the same int8 checkpoint and
-- calibration serve both; the arithmetic is TFLite Micro's / CMSIS-NN's:
-- int32 sums of (x - x's zero point) * int8 weight, then a per-channel Q31
-- multiplier and shift (runtime/timmc_q8.h), so forward is integer but the
-- conversions and gives the same bits on every CPU.
--
-- What forward reads lives in int32 words beside the packed floats (the
-- words of each node at an offset fixed here): zero points, bounds,
-- biases, multipliers and shifts, the int8 weights four to a word, the
-- 256-entry tables of activations. Init computes them from the int8
-- checkpoint (runtime/timmc_quant.c: timmc_pt_*_q8), or a firmware links
-- them as const arrays (`timmc weights`).
local tables = require("backends.int8_tables")
local xnnpack_int8 = require("backends.xnnpack_int8")

local int8 = {}

-- A node's words: count of them at an offset fixed at generation time.
local function reserve(ctx, count)
  local at = ctx.words
  ctx.words = ctx.words + count
  return at
end

local function need_acc(ctx, n) if n > ctx.qacc then ctx.qacc = n end end

-- Elementwise over the pixels p of y, channel innermost; body sees c and the
-- pointers named in ptrs: {name, C type, tensor (its pixel p) or a C
-- expression, writable}.
local function elementwise(y, ptrs, pre, body)
  local decl = {}
  for _, p in ipairs(ptrs) do
    local at = type(p[3]) == "string" and p[3]
               or string.format("%s + p * %d", p[3].ptr, p[3].stride)
    decl[#decl + 1] = string.format("    %s%s *const %s = %s;\n", p[4] and "" or "const ", p[2],
                                    p[1], at)
  end
  return string.format("%s  for (int p = 0; p < %d; p++) {\n%s" ..
                       "    for (int c = 0; c < %d; c++) {\n%s    }\n  }\n", pre,
                       y.shape[1] * y.shape[2] * y.shape[3], table.concat(decl), y.shape[4], body)
end

local function words_at(off) return string.format("  const int32_t *const q = qwords + %d;\n", off) end

local emit = {}

-- A convolution an output row at a time, as the float one (portable.lua's
-- row_body): int32 sums of the row in qacc, bias first; each tap's weight
-- row serves the row's pixels; padding is skipped (it stands for 0, the
-- input's zero point); then each sum requantized to y.
local function conv_body(node, x, y, off)
  local cout, groups, k, s, d = node.cout, node.groups, node.k, node.stride, node.dilation
  local cin_g, cout_g = node.cin // groups, cout // groups
  local ow_n, pt, pl = y.shape[3], node.pad[1], node.pad[4]
  -- the input column of output column OW (a C expression) at tap kw
  local function col(ow)
    return string.format("(%s * %d - %d + kw * %d) * %d", ow, s, pl, d, x.stride)
  end
  local function four(fmt)
    local r = {}
    for j = 0, 3 do r[#r + 1] = fmt:gsub("#", "(ow + " .. j .. ")") end
    return table.concat(r, ", ")
  end
  -- four output columns at a time (each weight read once for them), then the rest
  local function columns(step4, step1, indent)
    return string.format("%sconst int a4 = a0 + (a1 - a0) / 4 * 4;\n" ..
                         "%sfor (int ow = a0; ow < a4; ow += 4) %s;\n" ..
                         "%sfor (int ow = a4; ow < a1; ow++) %s;\n", indent, indent, step4, indent,
                         step1)
  end
  local update
  if cin_g == 1 and cout_g == 1 then -- depthwise: channel by channel
    update = "          {\n" .. columns(
      string.format("timmc_q8_mac4(%d, %s, zx, wk, %s)", cout, four("xr + " .. col("#")),
                    four("qacc + # * " .. cout)),
      string.format("timmc_q8_mac(%d, xr + %s, zx, wk, qacc + ow * %d)", cout, col("ow"), cout),
      "            ") .. "          }\n"
  elseif groups == 1 then
    update = string.format(
      "          for (int ci = 0; ci < %d; ci++) {\n" ..
      "            const int8_t *const wp = wk + ci * %d;\n", cin_g, cout) .. columns(
      string.format("timmc_q8_axpy4(%d, %s, wp, %s)", cout, four("xr[" .. col("#") .. " + ci] + zx"),
                    four("qacc + # * " .. cout)),
      string.format("timmc_q8_axpy(%d, xr[%s + ci] + zx, wp, qacc + ow * %d)", cout, col("ow"),
                    cout), "            ") .. "          }\n"
  else
    update = string.format(
      "          for (int g = 0; g < %d; g++) {\n" ..
      "            for (int ci = 0; ci < %d; ci++) {\n" ..
      "              const int8_t *const wp = wk + ci * %d + g * %d;\n" ..
      "              for (int ow = a0; ow < a1; ow++) {\n" ..
      "                timmc_q8_axpy(%d, xr[%s + g * %d + ci] + zx, wp, qacc + ow * %d + g * %d);\n" ..
      "              }\n            }\n          }\n", groups, cin_g, cout, cout_g, cout_g,
      col("ow"), cin_g, cout, cout_g)
  end
  return words_at(off) .. string.format(
    "  const int32_t zx = q[0], zy = q[1], lo = q[2], hi = q[3];\n" ..
    "  const int32_t *const bias = q + 4, *const mult = q + %d, *const shift = q + %d;\n" ..
    "  const int8_t *const wq = (const int8_t *)(const void *)(q + %d);\n" ..
    "  for (int n = 0; n < %d; n++) {\n" ..
    "    for (int oh = 0; oh < %d; oh++) {\n" ..
    "      int8_t *const yr = %s + (n * %d + oh) * %d;\n" ..
    "      for (int ow = 0; ow < %d; ow++) {\n" ..
    "        for (int co = 0; co < %d; co++) qacc[ow * %d + co] = bias[co];\n" ..
    "      }\n" ..
    "      for (int kh = 0; kh < %d; kh++) {\n" ..
    "        const int ih = oh * %d - %d + kh * %d;\n" ..
    "        if (ih < 0 || ih >= %d) continue;\n" ..
    "        const int8_t *const xr = %s + (n * %d + ih) * %d;\n" ..
    "        for (int kw = 0; kw < %d; kw++) {\n" ..
    "          /* the output columns whose input column is inside the image */\n" ..
    "          int a0 = 0, a1 = %d;\n" ..
    "          while (a0 < a1 && a0 * %d - %d + kw * %d < 0) a0++;\n" ..
    "          while (a1 > a0 && (a1 - 1) * %d - %d + kw * %d >= %d) a1--;\n" ..
    "          const int8_t *const wk = wq + (kh * %d + kw) * %d;\n" ..
    "%s        }\n      }\n" ..
    "      for (int ow = 0; ow < %d; ow++) {\n" ..
    "        const int32_t *const a = qacc + ow * %d;\n" ..
    "        int8_t *const yp = yr + ow * %d;\n" ..
    "        for (int co = 0; co < %d; co++) {\n" ..
    "          yp[co] = timmc_q8_clamp(timmc_q8_requant(a[co], mult[co], shift[co]) + zy, lo, hi);\n" ..
    "        }\n      }\n    }\n  }\n",
    4 + cout, 4 + 2 * cout, 4 + 3 * cout,
    y.shape[1], y.shape[2], y.ptr, y.shape[2], ow_n * y.stride, ow_n, cout, cout,
    k, s, pt, d, x.shape[2], x.ptr, x.shape[2], x.shape[3] * x.stride, k, ow_n, s, pl, d, s, pl,
    d, x.shape[3], k, cin_g * cout, update, ow_n, cout, y.stride, cout)
end

local function conv_words(node, cin_g, k)
  return 4 + 3 * node.cout + (k * k * cin_g * node.cout + 3) // 4
end

-- A pointwise convolution (1x1, stride 1, no padding, one group): each
-- output one dot product of its pixel's inputs with its channel's weight row
-- ([out][in]: SMLAD pairs on a Cortex-M with the DSP extension).
local function pointwise(node)
  local p = node.pad
  return node.k == 1 and node.stride == 1 and node.groups == 1 and
         p[1] == 0 and p[2] == 0 and p[3] == 0 and p[4] == 0
end

local function pointwise_body(node, x, y, off)
  local cin, cout = node.cin, node.cout
  return words_at(off) .. string.format(
    "  const int32_t zx = q[0], zy = q[1], lo = q[2], hi = q[3];\n" ..
    "  const int32_t *const bias = q + 4, *const mult = q + %d, *const shift = q + %d;\n" ..
    "  const int8_t *const wq = (const int8_t *)(const void *)(q + %d);\n" ..
    "  for (int p = 0; p < %d; p++) {\n" ..
    "    const int8_t *const xp = %s + p * %d;\n" ..
    "    int8_t *const yp = %s + p * %d;\n" ..
    "    for (int co = 0; co < %d; co++) {\n" ..
    "      const int32_t a = timmc_q8_dot(%d, xp, zx, wq + co * %d, bias[co]);\n" ..
    "      yp[co] = timmc_q8_clamp(timmc_q8_requant(a, mult[co], shift[co]) + zy, lo, hi);\n" ..
    "    }\n  }\n", 4 + cout, 4 + 2 * cout, 4 + 3 * cout, y.shape[1] * y.shape[2] * y.shape[3],
    x.ptr, x.stride, y.ptr, y.stride, cout, cin, cin)
end

function emit.conv(h, node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local qx, qy = ctx.qp(node.inputs[1]), ctx.qp(node.output)
  local cin_g = node.cin // node.groups
  local off = reserve(ctx, conv_words(node, cin_g, node.k))
  local pw = pointwise(node)
  if not pw then need_acc(ctx, y.shape[3] * node.cout) end
  tables.add_conv(ctx, node)
  local lo, hi = tables.qclamp(node.act, qy)
  ctx.ops[#ctx.ops + 1] = h.fn(ctx, node, (pw and pointwise_body or conv_body)(node, x, y, off))
  return string.format(
    "  TIMMC_TRY(timmc_pt_conv_q8(st, qwords_buf + %d, %q, /*out_channels=*/%d, " ..
    "/*group_input_channels=*/%d,\n      /*kernel=*/%d, /*ndim=*/4, /*out_major=*/%d, %s, %s, " ..
    "%s, %s));\n", off, node.weight, node.cout, cin_g, node.k, pw and 1 or 0, qx.ref, qy.ref, lo,
    hi)
end

-- a linear layer on a pooled vector ([in][out] weights, BatchNorm and a
-- hard_sigmoid gate folded: the gate clamps to [0, 1])
function emit.linear(h, node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local qx, qy = ctx.qp(node.inputs[1]), ctx.qp(node.output)
  local cin, cout = node.cin, node.cout
  local off = reserve(ctx, 4 + 3 * cout + (cin * cout + 3) // 4)
  need_acc(ctx, cout)
  tables.add_conv(ctx, node)
  local lo, hi = tables.qclamp(node.act, qy)
  if node.gate then
    lo = string.format("timmc_quantize_one(0.0, %s)", qy.ref)
    hi = string.format("timmc_quantize_one(1.0, %s)", qy.ref)
  end
  ctx.ops[#ctx.ops + 1] = h.fn(ctx, node, words_at(off) .. string.format(
    "  const int32_t zx = q[0], zy = q[1], lo = q[2], hi = q[3];\n" ..
    "  const int32_t *const bias = q + 4, *const mult = q + %d, *const shift = q + %d;\n" ..
    "  const int8_t *const wq = (const int8_t *)(const void *)(q + %d);\n" ..
    "  for (int n = 0; n < %d; n++) {\n" ..
    "    const int8_t *const xp = %s + n * %d;\n" ..
    "    int8_t *const yp = %s + n * %d;\n" ..
    "    for (int o = 0; o < %d; o++) qacc[o] = bias[o];\n" ..
    "    for (int i = 0; i < %d; i++) timmc_q8_axpy(%d, xp[i] + zx, wq + i * %d, qacc);\n" ..
    "    for (int o = 0; o < %d; o++) {\n" ..
    "      yp[o] = timmc_q8_clamp(timmc_q8_requant(qacc[o], mult[o], shift[o]) + zy, lo, hi);\n" ..
    "    }\n  }\n", 4 + cout, 4 + 2 * cout, 4 + 3 * cout, x.shape[1], x.ptr, x.stride, y.ptr,
    y.stride, cout, cin, cout, cout, cout))
  return string.format(
    "  TIMMC_TRY(timmc_pt_conv_q8(st, qwords_buf + %d, %q, /*out_features=*/%d, " ..
    "/*in_features=*/%d,\n      /*kernel=*/0, /*ndim=*/%d, /*out_major=*/0, %s, %s, %s, " ..
    "%s));\n", off,
    node.weight, cout, cin, node.weight_ndim, qx.ref, qy.ref, lo, hi)
end

function emit.add(h, node, ctx)
  local a, b, y = ctx.at(node.inputs[1]), ctx.at(node.inputs[2]), ctx.at(node.output)
  local qa, qb, qy = ctx.qp(node.inputs[1]), ctx.qp(node.inputs[2]), ctx.qp(node.output)
  local off = reserve(ctx, 11)
  local lo, hi = tables.qclamp(node.act, qy)
  ctx.ops[#ctx.ops + 1] = h.fn(ctx, node, elementwise(y,
    { { "ap", "int8_t", a }, { "bp", "int8_t", b }, { "yp", "int8_t", y, true } },
    words_at(off) ..
    "  const int32_t za = q[0], zb = q[1], zy = q[2], lo = q[3], hi = q[4];\n",
    "      const int32_t va = timmc_q8_requant((ap[c] + za) * (1 << 20), q[5], q[6]);\n" ..
    "      const int32_t vb = timmc_q8_requant((bp[c] + zb) * (1 << 20), q[7], q[8]);\n" ..
    "      yp[c] = timmc_q8_clamp(timmc_q8_requant(va + vb, q[9], q[10]) + zy, lo, hi);\n"))
  return string.format("  timmc_pt_add_q8(qwords_buf + %d, %s, %s, %s, %s, %s);\n", off, qa.ref,
                       qb.ref, qy.ref, lo, hi)
end

-- x * gate: the gate a pooled vector per batch item (squeeze-excite)
function emit.scale(h, node, ctx)
  local x, g, y = ctx.at(node.inputs[1]), ctx.at(node.inputs[2]), ctx.at(node.output)
  local qx, qg, qy = ctx.qp(node.inputs[1]), ctx.qp(node.inputs[2]), ctx.qp(node.output)
  local hw = y.shape[2] * y.shape[3]
  local off = reserve(ctx, 7)
  ctx.ops[#ctx.ops + 1] = h.fn(ctx, node, elementwise(y,
    { { "xp", "int8_t", x },
      { "gp", "int8_t", string.format("%s + p / %d * %d", g.ptr, hw, g.stride) },
      { "yp", "int8_t", y, true } },
    words_at(off) ..
    "  const int32_t zx = q[0], zg = q[1], zy = q[2], lo = q[3], hi = q[4];\n",
    "      const int32_t v = timmc_q8_requant((xp[c] + zx) * (gp[c] + zg), q[5], q[6]);\n" ..
    "      yp[c] = timmc_q8_clamp(v + zy, lo, hi);\n"))
  return string.format("  timmc_pt_mul_q8(qwords_buf + %d, %s, %s, %s, -128, 127);\n", off,
                       qx.ref, qg.ref, qy.ref)
end

-- max pooling keeps its input's scale (same_scale): a max of int8 values
function emit.maxpool(h, node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local c, k, s = y.shape[4], node.k, node.stride
  ctx.ops[#ctx.ops + 1] = h.fn(ctx, node, string.format(
    "  for (int n = 0; n < %d; n++) {\n" ..
    "    for (int oh = 0; oh < %d; oh++) {\n" ..
    "      for (int ow = 0; ow < %d; ow++) {\n" ..
    "        int8_t *const yp = %s + ((n * %d + oh) * %d + ow) * %d;\n" ..
    "        for (int c = 0; c < %d; c++) yp[c] = -128;\n" ..
    "        for (int kh = 0; kh < %d; kh++) {\n" ..
    "          const int ih = oh * %d - %d + kh;\n" ..
    "          if (ih < 0 || ih >= %d) continue;\n" ..
    "          for (int kw = 0; kw < %d; kw++) {\n" ..
    "            const int iw = ow * %d - %d + kw;\n" ..
    "            if (iw < 0 || iw >= %d) continue;\n" ..
    "            const int8_t *const xp = %s + ((n * %d + ih) * %d + iw) * %d;\n" ..
    "            for (int c = 0; c < %d; c++) yp[c] = xp[c] > yp[c] ? xp[c] : yp[c];\n" ..
    "          }\n        }\n      }\n    }\n  }\n", y.shape[1], y.shape[2], y.shape[3], y.ptr,
    y.shape[2], y.shape[3], y.stride, c, k, s, node.pad[1], x.shape[2], k, s, node.pad[4],
    x.shape[3], x.ptr, x.shape[2], x.shape[3], x.stride, c))
  return ""
end

-- global max pooling keeps the scale; average pooling sums (int32) and
-- requantizes by x scale / (pixels * y scale)
function emit.global_pool(h, node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local c, hw = x.shape[4], x.shape[2] * x.shape[3]
  local head = string.format(
    "  for (int n = 0; n < %d; n++) {\n" ..
    "    int8_t *const yp = %s + n * %d;\n" ..
    "    const int8_t *xp = %s + n * %d;\n", x.shape[1], y.ptr, y.stride, x.ptr, hw * x.stride)
  if node.mode == "max" then
    ctx.ops[#ctx.ops + 1] = h.fn(ctx, node, head .. string.format(
      "    for (int c = 0; c < %d; c++) yp[c] = xp[c];\n" ..
      "    for (int p = 1; p < %d; p++) {\n" ..
      "      xp += %d;\n" ..
      "      for (int c = 0; c < %d; c++) yp[c] = xp[c] > yp[c] ? xp[c] : yp[c];\n" ..
      "    }\n  }\n", c, hw, x.stride, c))
    return ""
  end
  local off = reserve(ctx, 4)
  need_acc(ctx, c)
  ctx.ops[#ctx.ops + 1] = h.fn(ctx, node, words_at(off) .. head .. string.format(
    "    for (int c = 0; c < %d; c++) qacc[c] = %d * q[0];\n" ..
    "    for (int p = 0; p < %d; p++, xp += %d) {\n" ..
    "      for (int c = 0; c < %d; c++) qacc[c] += xp[c];\n" ..
    "    }\n" ..
    "    for (int c = 0; c < %d; c++) {\n" ..
    "      yp[c] = timmc_q8_clamp(timmc_q8_requant(qacc[c], q[2], q[3]) + q[1], -128, 127);\n" ..
    "    }\n  }\n", c, hw, hw, x.stride, c, c))
  return string.format("  timmc_pt_mean_q8(qwords_buf + %d, %s, %s, /*count=*/%d);\n", off,
                       ctx.qp(node.inputs[1]).ref, ctx.qp(node.output).ref, hw)
end

-- a function of one value through a 256-entry table (64 words), filled at
-- init from the float function fn(x, c)
local function lut(h, node, ctx, fn, c)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local off = reserve(ctx, 64)
  ctx.ops[#ctx.ops + 1] = h.fn(ctx, node, elementwise(y,
    { { "xp", "int8_t", x }, { "yp", "int8_t", y, true } },
    string.format("  const int8_t *const t = (const int8_t *)(const void *)(qwords + %d) + 128;\n",
                  off), "      yp[c] = t[xp[c]];\n"))
  return string.format("  timmc_lut8_fill((int8_t *)(void *)(qwords_buf + %d), %s, %sf, %s, %s);\n",
                       off, fn, h.float_repr(c + 0.0), ctx.qp(node.inputs[1]).ref,
                       ctx.qp(node.output).ref)
end

function emit.act(h, node, ctx)
  ctx.lut_fns[node.fn] = true
  return lut(h, node, ctx, "lut_" .. node.fn, 0)
end

function emit.mul_const(h, node, ctx)
  ctx.lut_fns.mul = true
  return lut(h, node, ctx, "lut_mul", node.value)
end

local function convert(h, node, ctx, q, xtype, ytype, expr)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  local off = reserve(ctx, 2)
  ctx.ops[#ctx.ops + 1] = h.fn(ctx, node, elementwise(y,
    { { "xp", xtype, x }, { "yp", ytype, y, true } },
    words_at(off) .. "  const int32_t zp = q[0];\n  const float scale = timmc_q8_float(q[1]);\n",
    "      yp[c] = " .. expr .. ";\n"))
  return string.format("  timmc_pt_qparams_q8(qwords_buf + %d, %s);\n", off, q.ref)
end

function emit.quantize(h, node, ctx)
  return convert(h, node, ctx, ctx.qp(node.output), "float", "int8_t",
                 "timmc_q8_of(xp[c], scale, zp)")
end

function emit.dequantize(h, node, ctx)
  return convert(h, node, ctx, ctx.qp(node.inputs[1]), "int8_t", "float",
                 "timmc_q8_to_f32(xp[c], scale, zp)")
end

function emit.copy(h, node, ctx)
  local x, y = ctx.at(node.inputs[1]), ctx.at(node.output)
  ctx.ops[#ctx.ops + 1] = h.fn(ctx, node, elementwise(y,
    { { "xp", "int8_t", x }, { "yp", "int8_t", y, true } }, "", "      yp[c] = xp[c];\n"))
  return ""
end

int8.emit = emit
-- the XNNPACK backend's policy, so one int8 checkpoint serves both
int8.runs_int8 = xnnpack_int8.runs_int8
int8.same_scale = xnnpack_int8.same_scale

function int8.new_context(ctx)
  tables.new_context(ctx)
  ctx.words, ctx.qacc = 0, 0
end

-- The words, their loaders' float functions, the int32 sums' scratch, and
-- calibration's view ("" for a float32 model).
function int8.declarations(ctx)
  if #ctx.qkeys == 0 then return "" end
  local name = ctx.model.spec.name
  return string.format(
    "#include \"timmc_q8.h\"\n#include \"timmc_quant.h\"\n" ..
    "\n/* What the int8 steps read (zero points, bounds, biases, multipliers and shifts, int8\n" ..
    " * weights four to a word, tables): init's, or NAME_weights.c's const arrays. */\n" ..
    "#define PACKED_WORDS %d\n" ..
    "static const int32_t *qwords;\n" ..
    "static int32_t qacc[%d]; /* an int8 convolution's int32 sums, a row of outputs */\n" ..
    "int %s_init_packed_words(const int32_t *words, size_t count);\n" ..
    "const int32_t *%s_packed_words(size_t *count);\n" ..
    "int %s_init_packed_words(const int32_t *words, size_t count) {\n" ..
    "  if (count != PACKED_WORDS) {\n" ..
    "    return timmc_fail(TIMMC_EINPUT, \"%s: the packed int8 weights hold %%zu words, this " ..
    "model takes %%d: regenerate them with timmc weights\", count, PACKED_WORDS);\n" ..
    "  }\n  qwords = words;\n  return TIMMC_OK;\n}\n" ..
    "const int32_t *%s_packed_words(size_t *count) {\n" ..
    "  *count = PACKED_WORDS;\n  return qwords;\n}\n" ..
    "#ifndef TIMMC_NO_SAFETENSORS\nstatic int32_t qwords_buf[PACKED_WORDS];\n%s#endif\n%s\n",
    ctx.words, math.max(ctx.qacc, 1), name, name, name, name, name, tables.lut_functions(ctx),
    tables.declarations(ctx, "TIMMC_NO_SAFETENSORS"))
end

function int8.prologue(ctx)
  if #ctx.qkeys == 0 then return "" end
  return tables.prologue(ctx) .. "  qwords = qwords_buf;\n"
end

return int8
