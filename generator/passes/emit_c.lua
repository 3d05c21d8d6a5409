-- emit_c: prints the IR as C through the backend's template
-- (templates/<backend>/model.c.in) and templates/model.h.in. What is the same
-- for every backend is here: the memory plan table, the tensors' names, the
-- state_dict, feature_info and outputs, the entry points; each node's code
-- comes from the backend's emitter for its kind (generator/backends/).
local ir = require("ir")
local ops = require("ops")
local util = require("util")

local emit = {}

local function dims(shape) return "[" .. table.concat(shape, ",") .. "]" end

-- The C name of a tensor: its id and timm module, e.g. t12_layer1_0_act1.
local function c_name(t)
  local s = t.name:gsub("[^%w]+", "_"):gsub("^_+", ""):gsub("_+$", "")
  return "t" .. t.id .. (s ~= "" and "_" .. s or "")
end

-- The emitters' view of the tensors: at(id) is where a tensor lives (its C
-- name, pixel stride, i.e. the channels of the tensor that owns the memory,
-- and shape); compact(node, id) the same for ops that take no strides.
local function tensor_access(ctx)
  local model = ctx.model
  function ctx.at(id)
    local root = ir.root(model, id)
    ctx.used[id] = true
    return { ptr = c_name(model.tensors[id]), stride = root.c, shape = model.tensors[id].shape }
  end
  function ctx.compact(node, id)
    local r = ctx.at(id)
    assert(r.stride == r.shape[4], node.name .. ": an elementwise op on a channel slice")
    return r
  end
  function ctx.shape(id) return model.tensors[id].shape end
end

-- One static pointer into the arena per tensor the code uses.
local function tensor_decls(model, used)
  local out = {}
  for id, t in ipairs(model.tensors) do
    if used[id] then
      local root, chan = ir.root(model, id)
      local ctype = ir.DTYPES[t.dtype].c
      local expr = string.format("(%s *)(arena + %d)", ctype, root.offset)
      if chan > 0 then expr = expr .. " + " .. chan end
      out[#out + 1] = string.format("static %s *const %s = %s; /* %s %s */\n", ctype, c_name(t),
                                    expr, t.name, dims(t.shape))
    end
  end
  return table.concat(out)
end

-- One-line summary of a node for the section heading.
local function summary(node, ctx)
  local x, y = ctx.model.tensors[node.inputs[1]].shape, ctx.model.tensors[node.output].shape
  local s = ops.get(node).summary(node, ctx.model)
  local into = ""
  local root, offset = ir.root(ctx.model, node.output)
  if root.id ~= node.output then
    into = string.format(" (channels %d.. of %s)", offset, root.name)
  end
  local T = ctx.model.tensors
  local prec = (T[node.output].dtype == "qs8" and T[node.inputs[1]].dtype == "qs8") and " [int8]"
               or ""
  return string.format("%s: %s%s; %s -> %s%s", node.name, s, prec, dims(x), dims(y), into)
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

local function transpose_out(ctx, id, dst)
  local t = ctx.at(id)
  return string.format("  timmc_nhwc_to_nchw(%s, %s, %d, %d, %d);\n", t.ptr, dst,
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

-- NAME_preprocess: timm's eval transform of the architecture's pretrained
-- data config (models/pretrained_cfgs.lua) at the spec's input size, through
-- runtime/timmc_image.c, with the arena as scratch.
local function preprocess(model)
  local spec, cfg = model.spec, model.arch.pretrained
  local name = spec.name
  if not cfg or spec.input_size[1] ~= 3 then
    local why = cfg and string.format("the model takes %d input channels, images give 3",
                                      spec.input_size[1])
                    or "no pretrained data config for " .. spec.architecture
    return string.format([[
int %s_preprocess(const uint8_t *rgb, int height, int width, float *input) {
  (void)rgb, (void)height, (void)width, (void)input;
  return timmc_fail(TIMMC_EINPUT, "%s: %s");
}
]], name, name, why)
  end
  local floats = function(v)
    return table.concat({ util.float_repr(v[1] + 0.0) .. "f", util.float_repr(v[2] + 0.0) .. "f",
                          util.float_repr(v[3] + 0.0) .. "f" }, ", ")
  end
  return string.format([[
/* timm's eval transform for %s (pretrained_cfg %s): the short side resized to
 * floor(%d / %s) (%s, as Pillow does), a %s crop of %dx%d, / 255, normalised. */
static const timmc_image_cfg image_cfg = {
    .height = %d, .width = %d, .crop_pct = %s,
    .interpolation = TIMMC_IMAGE_%s, .crop_mode = TIMMC_IMAGE_CROP_%s,
    .mean = {%s}, .std = {%s}};

int %s_preprocess(const uint8_t *rgb, int height, int width, float *input) {
  /* the arena is the scratch: never while a forward of this model runs */
  return timmc_image_preprocess(rgb, height, width, &image_cfg, input, arena,
                                sizeof(arena));
}
]], spec.architecture, cfg.tag ~= "" and cfg.tag or "default", spec.input_size[2],
      util.float_repr(cfg.crop_pct + 0.0), cfg.interpolation, cfg.crop_mode, spec.input_size[2],
      spec.input_size[3], spec.input_size[2], spec.input_size[3],
      util.float_repr(cfg.crop_pct + 0.0), cfg.interpolation:upper(), cfg.crop_mode:upper(),
      floats(cfg.mean), floats(cfg.std), name)
end

-- templates: {h = text of templates/model.h.in, c = the backend's model.c.in}
function emit.run(model, templates)
  local spec, T = model.spec, model.tensors
  local backend = model.backend
  local name = spec.name
  local ctx = { model = model, flops = 0, used = {} }
  tensor_access(ctx)
  backend.new_context(ctx)

  local create, op_names, op_precision = {}, {}, {}
  for i, node in ipairs(model.nodes) do
    local impl = backend.ops[node.kind]
    if not impl or not impl.emit then
      util.ir_fail(node, "the %s backend has no emitter for node kind %s", backend.name,
                   node.kind)
    end
    ctx.op = i - 1
    ctx.flops = ctx.flops + ops.flops(node, T[node.inputs[1]].shape, T[node.output].shape)
    create[#create + 1] = "\n  /* " .. summary(node, ctx) .. " */\n" .. impl.emit(node, ctx)
    op_names[#op_names + 1] = string.format("    %q,\n", node.name)
    local xq, yq = T[node.inputs[1]].dtype == "qs8", T[node.output].dtype == "qs8"
    op_precision[#op_precision + 1] = (xq and yq) and "i" or (xq or yq) and "c" or "f"
  end

  -- memory plan table: every buffer, then what shares it (in place, or a view)
  local rows = {}
  if (model.plan.fallbacks or 0) > 0 then
    rows[1] = string.format(" * %d layers (Winograd) left in their plain form to fit " ..
                            "max_arena_bytes (%d).", model.plan.fallbacks, spec.max_arena_bytes)
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

  -- state dict table, and the bytes of weights the nodes read (each kind's
  -- rule in ops.lua, for the dtype it runs in)
  local sd, numel = {}, {}
  for _, p in ipairs(model.state_dict) do
    local full = { 0, 0, 0, 0 }
    for i, v in ipairs(p.shape) do full[i] = v end
    sd[#sd + 1] = string.format("    {%q, %d, {%s}, TIMMC_INIT_%s},\n", p.name, #p.shape,
                                table.concat(full, ", "), p.init:upper())
    numel[p.name] = util.prod(p.shape)
  end
  local weights_bytes = 0
  for _, node in ipairs(model.nodes) do
    weights_bytes = weights_bytes + ops.weights_bytes(node, T[node.output].dtype, function(key)
      return numel[key] or util.ir_fail(node, "reads %s, which is not in the state_dict", key)
    end)
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
    fwd_out[#fwd_out + 1] = transpose_out(ctx, o.tensor, "out[" .. (i - 1) .. "]")
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
  timmc_nchw_to_nhwc(input, %s, %d, %d, %d);
  rc = run_ops(0, %d);
  if (rc != TIMMC_OK) return rc;
%s  return TIMMC_OK;
}

int %s_forward_head(const float *features, float *output, int pre_logits) {
  int rc;
  if (!ready) return timmc_fail(TIMMC_EINPUT, "%s: forward_head before init");
  timmc_nchw_to_nhwc(features, %s, %d, %d, %d);
  rc = run_ops(%d, pre_logits ? %d : NUM_OPS);
  if (rc != TIMMC_OK) return rc;
  if (pre_logits) {
  %s    return TIMMC_OK;
  }
%s  return TIMMC_OK;
}
]], name, name, ctx.at(model.input).ptr, spec.batch_size, spec.input_size[1],
      spec.input_size[2] * spec.input_size[3], e.features_last,
      transpose_out(ctx, model.backbone_out, "output"),
      name, name, ctx.at(model.backbone_out).ptr, bo.shape[1], bo.shape[4],
      bo.shape[2] * bo.shape[3], e.features_last, e.pool_last,
      transpose_out(ctx, pool_id, "output"),
      transpose_out(ctx, model.outputs[1].tensor, "output"))
  end

  -- embed_weights: the checkpoint linked in by the assembler (.incbin), no C array
  local embedded, embedded_decl, init_embedded_ref = "", "", "NULL"
  if spec.embed_weights then
    local file_macro = name:upper() .. "_EMBED_FILE"
    local shown = util.c_comment(spec.embed_weights)
    embedded = string.format([[
/* The weights, %s, are part of this object file: the assembler includes
 * %s (.incbin). timmc build and timmc_add_model define it as the
 * file's absolute path; without it, it is the path from the spec's folder, which
 * the assembler looks for in the current directory first, then in the -Wa,-I
 * folders: compile with -D%s='"/absolute/path"' to be sure of the file. */
#ifndef %s
#define %s "%s"
#endif
__asm__(".section .rodata\n"
        ".hidden %s_weights_begin\n"
        ".hidden %s_weights_end\n"
        ".balign 64\n"
        "%s_weights_begin:\n"
        ".incbin \"" %s "\"\n"
        "%s_weights_end:\n"
        ".previous\n");
/* hidden: a PIE links them PC-relative (through the GOT, aarch64 resolved both
 * labels to one slot and the size came out 0) */
__attribute__((visibility("hidden"))) extern const unsigned char %s_weights_begin[],
    %s_weights_end[];

int %s_init_embedded(void) {
  return init_from(%s_weights_begin, (size_t)(%s_weights_end - %s_weights_begin), %s, 0);
}

]], shown, file_macro, file_macro, file_macro, file_macro, util.c_string(spec.embed_weights),
      name, name, name, file_macro, name, name, name, name, name, name, name, file_macro)
    embedded_decl = string.format("/* Reads the weights linked into the binary (%s). */\n" ..
                                  "int %s_init_embedded(void);\n", shown, name)
    init_embedded_ref = name .. "_init_embedded"
  end

  -- the float32 reference of an int8 model: every node's output, for calibration
  local observed, num_observed = "", 0
  if spec.reference then
    local function row(t, y, step)
      return string.format("    {\"%s\", %s, %d, %d, %d, %s},\n", util.c_string(t.qkey), y.ptr,
                           y.shape[1] * y.shape[2] * y.shape[3], y.shape[4], y.stride, step)
    end
    local watched = { row(T[model.input], ctx.at(model.input), "SIZE_MAX") }
    for i, node in ipairs(model.nodes) do
      local t = T[node.output]
      if t.dtype == "f32" and t.qkey then
        watched[#watched + 1] = row(t, ctx.at(node.output), tostring(i - 1))
      end
    end
    num_observed = #watched
    observed = "\n/* What int8 calibration watches: range key, data, pixels, channels, " ..
               "pixel stride, step (SIZE_MAX: the input) */\n" ..
               "static const timmc_observed observed[] = {\n" .. table.concat(watched) .. "};\n"
  end

  local input_ptr = ctx.at(model.input).ptr
  -- the holes both templates have, then each one's own
  local N = name:upper()
  local model_summary = describe(model)
  local function holes(own)
    local t = {
      name = name, NAME = N, spec_path = util.c_comment(spec.spec_path),
      architecture = spec.architecture,
      summary = model_summary, input_n = spec.batch_size, input_c = spec.input_size[1],
      input_h = spec.input_size[2], input_w = spec.input_size[3],
      arena_bytes = model.plan.arena_bytes, backend = backend.name,
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
    num_ops = #model.nodes,
    op_names = table.concat(op_names), state_dict = table.concat(sd),
    feature_info = table.concat(fi), outputs = table.concat(outs),
    entry_outputs = entry_outputs, declarations = backend.declarations(ctx),
    create = (backend.prologue and backend.prologue(ctx) or "") .. table.concat(create),
    input_ptr = input_ptr,
    tensors = tensor_decls(model, ctx.used), template = backend.template,
    arena_tail = backend.arena_tail, arena_align = backend.align,
    input_hw = spec.input_size[2] * spec.input_size[3],
    forward_outputs = table.concat(fwd_out), entries = entries,
    features_only = spec.features_only and 1 or 0, features_ref = features_ref,
    pre_logits_ref = pre_logits_ref, weights_bytes = weights_bytes,
    flops = util.float_repr(ctx.flops * 1.0), forward_features_ref = ff_ref,
    forward_head_ref = fh_ref, embedded = embedded, init_embedded_ref = init_embedded_ref,
    spec_path_string = util.c_string(spec.spec_path), preprocess = preprocess(model),
    op_precision = table.concat(op_precision),
    precision = spec.precision, quant_ref = spec.precision == "int8" and "&quant_info" or "NULL",
    observed = observed, observed_ref = spec.reference and "observed" or "NULL",
    num_observed = num_observed,
    image_cfg_ref = (model.arch.pretrained and spec.input_size[1] == 3) and "&image_cfg" or "NULL",
  }), backend.template)
  model.c_header, model.c_source = h, c
  return model
end

return emit
