-- backends/int8_tables.lua: what every backend's int8 forms share (spec
-- "precision": "int8", docs/int8.md): the registry of int8 tensors' scales
-- and zero points (qp[i] in the model's C, from the checkpoint's
-- "KEY.act_range"), the quant_info calibration reads (the keys, the float
-- layers behind each int8 convolution, the float32 tensors the model still
-- reads), and the float functions the 256-entry tables are filled from.
local activations = require("activations")
local ops = require("ops")
local util = require("util")

local tables = {}

local function quote(s) return s and string.format("%q", s) or "NULL" end

-- ctx.qp(id): the C of a tensor's scale and zero point (qp[i], its index i);
-- ctx.qconv(node): records an int8 convolution or linear layer for calibration.
function tables.new_context(ctx)
  ctx.qkeys, ctx.qindex, ctx.qconvs, ctx.luts, ctx.lut_fns = {}, {}, {}, 0, {}
  function ctx.qp(id)
    local key = ctx.model.tensors[id].qkey
    local i = ctx.qindex[key]
    if not i then
      ctx.qkeys[#ctx.qkeys + 1] = key
      i = #ctx.qkeys - 1
      ctx.qindex[key] = i
    end
    return { scale = string.format("qp[%d].scale", i), zp = string.format("qp[%d].zero_point", i),
             ref = string.format("qp[%d]", i), index = i }
  end
end

-- timmc_qconv's row of a convolution (groups > 0) or a linear layer: timm's
-- keys, the sizes, and for bias correction its input's range index and the
-- geometry that says which kernel taps fall on padding
function tables.add_conv(ctx, node)
  local T = ctx.model.tensors
  local x, y = T[node.inputs[1]].shape, T[node.output].shape
  local linear = node.kind == "linear"
  local groups = linear and 1 or node.groups
  ctx.qconvs[#ctx.qconvs + 1] = string.format(
    "    {%q, %s, %s, %s, %d, %d, %d, %d, %d,\n     /*input=*/%d, %d, /*stride=*/%d, " ..
    "/*dilation=*/%d, /*pad=*/%d, %d, /*in=*/%d, %d, /*out=*/%d, %d},\n",
    node.weight, quote(node.bias), quote(node.bn), util.float_repr(node.bn_eps), node.cout,
    linear and node.cin or node.cin // groups, linear and 1 or node.k,
    linear and node.weight_ndim or 0, node.gate and 1 or 0, ctx.qp(node.inputs[1]).index, groups,
    linear and 1 or node.stride, linear and 1 or node.dilation, linear and 0 or node.pad[1],
    linear and 0 or node.pad[4], x[2], x[3], y[2], y[3])
end

-- The int8 bounds of a fused clamp activation in y's quantization (q: ctx.qp).
function tables.qclamp(act, q)
  local c = act and activations[act].clamp
  local min = c and string.format("timmc_quantize_one(%s, %s)", util.float_repr(c[1] + 0.0), q.ref)
              or "-128"
  local max = (c and c[2] ~= math.huge)
              and string.format("timmc_quantize_one(%s, %s)", util.float_repr(c[2] + 0.0), q.ref)
              or "127"
  return min, max
end

-- The int8 adds whose clamp (a fused ReLU or ReLU6) makes part of an input's
-- range dead: below clamp_min - max(other input), that input only ever gives
-- clamp_min. Calibration narrows such an input's range to what can reach the
-- output (timmc_qadd). Rows {a, b, narrow a, narrow b, clamp min, max}: an
-- input is narrowed only when every int8 tensor with its range key is read by
-- this add alone and is none of the model's outputs or concat views.
local function dead_range_adds(ctx)
  local model, T = ctx.model, ctx.model.tensors
  local uses, kept = {}, {}
  for _, node in ipairs(model.nodes) do
    for _, id in ipairs(node.inputs) do
      uses[id] = uses[id] or {}
      uses[id][#uses[id] + 1] = node
    end
  end
  for _, o in ipairs(model.outputs) do kept[o.tensor] = true end
  for _, f in ipairs(model.features or {}) do kept[f.tensor] = true end
  for _, t in ipairs(T) do
    if t.base then kept[t.id], kept[t.base] = true, true end
  end
  local by_key = {}
  for _, t in ipairs(T) do
    if t.dtype == "qs8" and t.qkey then
      by_key[t.qkey] = by_key[t.qkey] or {}
      table.insert(by_key[t.qkey], t.id)
    end
  end
  local function only_for(id, node)
    for _, other in ipairs(by_key[T[id].qkey] or {}) do
      local u = uses[other] or {}
      if kept[other] or #u ~= 1 or u[1] ~= node then return false end
    end
    return true
  end
  local rows = {}
  for _, node in ipairs(model.nodes) do
    local c = node.kind == "add" and node.act and activations[node.act].clamp
    local a, b = node.inputs[1], node.inputs[2]
    if c and T[node.output].dtype == "qs8" and a ~= b then
      local na, nb = only_for(a, node), only_for(b, node)
      if na or nb then
        local max = c[2] == math.huge and "INFINITY" or util.float_repr(c[2] + 0.0)
        rows[#rows + 1] = string.format("    {%d, %d, %d, %d, %s, %s},\n", ctx.qp(a).index,
                                        ctx.qp(b).index, na and 1 or 0, nb and 1 or 0,
                                        util.float_repr(c[1] + 0.0), max)
      end
    end
  end
  return rows
end

-- The qp table, qconvs, float_keys and quant_info ("" for a model with no
-- int8 tensor); qp itself only #ifndef unless_defined, when given (a firmware
-- build of the portable backend has no use for it).
function tables.declarations(ctx, unless_defined)
  if #ctx.qkeys == 0 then return "" end
  local adds = dead_range_adds(ctx)
  local qp = "static timmc_qparams qp[NUM_QP];\n"
  if unless_defined then qp = "#ifndef " .. unless_defined .. "\n" .. qp .. "#endif\n" end
  local out = { string.format("\n/* int8 tensors: scale and zero point from their calibrated " ..
                              "range (\"KEY.act_range\") */\n" ..
                              "#define NUM_QP %d\n%s" ..
                              "static const char *const qp_keys[NUM_QP] = {\n", #ctx.qkeys, qp) }
  for _, k in ipairs(ctx.qkeys) do out[#out + 1] = string.format("    \"%s\",\n", util.c_string(k)) end
  out[#out + 1] = "};\n"
  if #ctx.qconvs > 0 then
    out[#out + 1] = "/* the int8 convolutions: timm's weight, bias, BatchNorm, eps, out, " ..
                    "in per group, kernel, linear ndim, gate; input range, groups, stride, " ..
                    "dilation, pad top/left, input and output height/width */\n" ..
                    "static const timmc_qconv qconvs[] = {\n" .. table.concat(ctx.qconvs) .. "};\n"
  end
  -- the float tensors it reads (the checkpoint keeps them)
  local keys, seen = {}, {}
  for _, node in ipairs(ctx.model.nodes) do
    if not (ctx.model.tensors[node.output].dtype == "qs8" and node.weight) then
      for _, k in ipairs(ops.reads(node)) do
        if not seen[k] then
          seen[k] = true
          keys[#keys + 1] = string.format("    \"%s\",\n", util.c_string(k))
        end
      end
    end
  end
  out[#out + 1] = "/* the float32 tensors it reads */\nstatic const char *const float_keys[] = {\n" ..
                  table.concat(keys) .. "    NULL};\n"
  if #adds > 0 then
    out[#out + 1] = "/* the adds whose clamp leaves part of an input's range dead: inputs a, b, " ..
                    "narrow a, narrow b, clamp */\nstatic const timmc_qadd qadds[] = {\n" ..
                    table.concat(adds) .. "};\n"
  end
  out[#out + 1] = string.format("static const timmc_quant_info quant_info = {qp_keys, NUM_QP, " ..
                                "%s, %d, float_keys, %d, %s, %d};\n",
                                #ctx.qconvs > 0 and "qconvs" or "NULL", #ctx.qconvs, #keys,
                                #adds > 0 and "qadds" or "NULL", #adds)
  return table.concat(out)
end

-- The float functions a table is filled from (x, c): lut_FN for each
-- activation the emitters asked for (ctx.lut_fns[fn] = true), lut_mul for a
-- product with a constant.
function tables.lut_functions(ctx)
  local out, fns = {}, {}
  for fn in pairs(ctx.lut_fns) do fns[#fns + 1] = fn end
  table.sort(fns)
  for _, fn in ipairs(fns) do
    if fn == "mul" then
      out[#out + 1] = "static float lut_mul(float x, float c) { return x * c; }\n"
    else
      out[#out + 1] = string.format("static float lut_%s(float x, float c) { /* %s */\n" ..
                                    "  (void)c;\n  return %s;\n}\n", fn, activations[fn].timm,
                                    activations[fn].c)
    end
  end
  return table.concat(out)
end

-- C at the start of the weights' loading: the scales, before anything takes them.
function tables.prologue(ctx)
  if #ctx.qkeys == 0 then return "" end
  return "  TIMMC_TRY(timmc_load_qparams(st, qp_keys, NUM_QP, qp));\n"
end

return tables
