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

-- timmc_qconv's row of a convolution (groups > 0) or a linear layer
function tables.add_conv(ctx, node)
  ctx.qconvs[#ctx.qconvs + 1] = string.format("    {%q, %s, %s, %s, %d, %d, %d, %d, %d},\n",
                                              node.weight, quote(node.bias), quote(node.bn),
                                              util.float_repr(node.bn_eps), node.cout,
                                              node.kind == "linear" and node.cin
                                              or node.cin // node.groups,
                                              node.kind == "linear" and 1 or node.k,
                                              node.kind == "linear" and node.weight_ndim or 0,
                                              node.gate and 1 or 0)
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

-- The qp table, qconvs, float_keys and quant_info ("" for a model with no
-- int8 tensor); qp itself only #ifndef unless_defined, when given (a firmware
-- build of the portable backend has no use for it).
function tables.declarations(ctx, unless_defined)
  if #ctx.qkeys == 0 then return "" end
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
                    "in per group, kernel */\nstatic const timmc_qconv qconvs[] = {\n" ..
                    table.concat(ctx.qconvs) .. "};\n"
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
  out[#out + 1] = string.format("static const timmc_quant_info quant_info = {qp_keys, NUM_QP, " ..
                                "%s, %d, float_keys, %d};\n", #ctx.qconvs > 0 and "qconvs" or "NULL",
                                #ctx.qconvs, #keys)
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
