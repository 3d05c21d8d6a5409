-- ops.lua: one entry per node kind, holding everything the passes need to
-- know about it (as onnx2c keeps one class per op). The passes ask these
-- entries; they keep no lists of kinds. How a kind runs is the backend's
-- (generator/backends/*.lua), which has one emitter per kind.
--
-- An entry:
--   attrs        attribute -> type: "int", "number", "string", "bool", "table",
--                "ids" (tensor ids), "act" (a name in activations.lua),
--                "clamp_act" (an activation that is a clamp, so any op can fuse
--                it: relu, relu6), or "one of a|b"; a trailing "?" makes it
--                optional. A node may carry no attribute its entry does not list.
--   shape        (node, x, model) -> output shape {N, H, W, C}; x is the first
--                input's. May set derived attributes (pads).
--   spatial      the op has a stride, and dilation reaches it under output_stride
--   on_output_stride (node, dilation, dilated) spatial ops: sets what timm's
--                output_stride changes (dilation and padding; dilated: the
--                stride became dilation)
--   in_place     how many leading inputs the output may overwrite (each output
--                element depends only on the same element of those inputs)
--   flat         the output is a pooled vector ([N, C] at the API)
--   flops        (node, x, y) -> floating-point operations of one forward
--   summary      (node, model) -> the one-line description in the emitted C
--   reads        state_dict keys the op reads (default: weight, bias and the
--                four BatchNorm tensors of bn)
--   weights_bytes (node, dtype, numel) -> bytes of weights the op reads when its
--                output is of dtype ("f32", "qs8"); numel(key) is a state_dict
--                entry's element count (default: every key of reads, float32 as
--                timm's checkpoints hold them, whatever the dtype)
--   fallback     (node, model) -> nil, or bytes of arena it frees if turned back
--                into its plain form by revert(node) (fit_arena)
local activations = require("activations")
local util = require("util")

local ops = {}

ops.activations = activations

-- Common node fields, present on every node.
ops.COMMON = { kind = true, name = true, inputs = true, output = true }

local function ceil_pad(n, p, k, s)
  -- PyTorch's ceil_mode: one more window when it starts inside the input or
  -- its left padding; the extra pixels it covers become right/bottom padding
  local o = (n + 2 * p - k + s - 1) // s + 1
  if (o - 1) * s >= n + p then o = o - 1 end
  return math.max(0, (o - 1) * s + k - n - 2 * p)
end

local function out_dim(n, pad_a, pad_b, k, s, d)
  return (n + pad_a + pad_b - d * (k - 1) - 1) // s + 1
end

-- The output of a window of k x k (dilation d, stride s) over x padded by p.
local function window_shape(x, p, k, s, d, c)
  return { x[1], out_dim(x[2], p[1], p[3], k, s, d), out_dim(x[3], p[4], p[2], k, s, d), c }
end

local function same(_, x) return { x[1], x[2], x[3], x[4] } end

local function act_suffix(node) return node.act and (", " .. node.act) or "" end

local conv_attrs = {
  weight = "string", bias = "string?", bn = "string?", bn_eps = "number", cin = "int",
  cout = "int", k = "int", stride = "int", dilation = "int", groups = "int",
  act = "clamp_act?", pad = "table?", same_pad = "bool?",
  -- an activation applied after act, as each output is stored (passes/fuse_dw_act.lua)
  post = "one of silu?",
}

-- The element types (ir.DTYPES; ir requires this file, so it is looked up when used).
local function dtypes() return require("ir").DTYPES end

-- Bytes of the float32 state_dict tensors a node reads (the default rule).
local function f32_weights_bytes(node, numel)
  local n = 0
  for _, key in ipairs(ops.reads(node)) do n = n + numel(key) end
  return n * dtypes().f32.bytes
end

-- A conv's or linear layer's: an int8 one reads its int8 weight, and a scale
-- and bias per output channel (float32), in place of timm's tensors
-- (docs/int8.md); a linear layer is a 1x1 conv of one group.
local function weighted_weights_bytes(node, dtype, numel)
  if dtype ~= "qs8" then return f32_weights_bytes(node, numel) end
  local k, d = node.k or 1, dtypes()
  return node.cout * (node.cin // (node.groups or 1)) * k * k * d.qs8.bytes +
         2 * node.cout * d.f32.bytes
end

local function conv_flops(node, _, y)
  return 2 * y[1] * y[2] * y[3] * node.cout * (node.cin // node.groups) * node.k * node.k
end

local function conv_summary(node)
  local s = string.format("conv %dx%d %d->%d s%d", node.k, node.k, node.cin, node.cout,
                          node.stride)
  if node.dilation > 1 then s = s .. " d" .. node.dilation end
  if node.groups > 1 then s = s .. " g" .. node.groups end
  if node.same_pad then s = s .. " same" end
  if node.bn then s = s .. ", " .. node.bn .. " folded" end
  return s
end

-- TensorFlow's 'SAME' padding (timm's tf_ models, padding='same'): the
-- output is ceil(n / stride), the padding that takes, the larger half last.
local function same_pad(n, k, s, d)
  local total = math.max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
  return total // 2, total - total // 2
end

ops.conv = {
  attrs = conv_attrs,
  spatial = true,
  shape = function(node, x)
    if node.same_pad then
      local top, bottom = same_pad(x[2], node.k, node.stride, node.dilation)
      local left, right = same_pad(x[3], node.k, node.stride, node.dilation)
      node.pad = { top, right, bottom, left }
    end
    return window_shape(x, node.pad, node.k, node.stride, node.dilation, node.cout)
  end,
  on_output_stride = function(node, dilation)
    node.dilation = node.k > 1 and dilation or 1
    local p = ((node.stride - 1) + node.dilation * (node.k - 1)) // 2
    node.pad = { p, p, p, p }
  end,
  flops = conv_flops,
  weights_bytes = weighted_weights_bytes,
  summary = function(node)
    return conv_summary(node) .. act_suffix(node) .. (node.post and ", " .. node.post or "")
  end,
}

-- A 3x3 stride-1 conv run as Winograd F(4x4, 3x3) (passes/winograd.lua): the
-- conv's attributes, plus tiles, block (tiles per block) and work (its two
-- scratch tensors, live for this node only).
local wino_attrs = { tiles = "int", block = "int", work = "ids" }
for k, v in pairs(conv_attrs) do wino_attrs[k] = v end
ops.wino_conv = {
  attrs = wino_attrs,
  shape = ops.conv.shape,
  flops = conv_flops, -- the direct convolution's, so GFLOP/s compare across algorithms
  weights_bytes = weighted_weights_bytes,
  summary = function(node)
    local s = conv_summary(node) ..
              string.format(", Winograd F(4x4,3x3) over %d tiles", node.tiles)
    if node.block < node.tiles then s = s .. string.format(" in blocks of %d", node.block) end
    return s .. act_suffix(node)
  end,
  fallback = function(node, model) return require("passes.winograd").fallback(node, model) end,
  revert = function(node) require("passes.winograd").revert(node) end,
}

-- BatchNorm with no conv before it to fold into, as a per-channel affine.
ops.bn_act = {
  attrs = { bn = "string", bn_eps = "number", act = "clamp_act?" },
  shape = same,
  summary = function(node)
    return "batchnorm " .. node.bn .. " as a per-channel affine" .. act_suffix(node)
  end,
}

-- An activation function on its own (activations.lua).
ops.act = {
  attrs = { fn = "act" },
  shape = same,
  in_place = 1,
  summary = function(node) return node.fn end,
}

local function pool_shape(node, x)
  if not node.same_pad then
    local p = node.padding
    local eh = node.ceil_mode and ceil_pad(x[2], p, node.k, node.stride) or 0
    local ew = node.ceil_mode and ceil_pad(x[3], p, node.k, node.stride) or 0
    node.pad = { p, p + ew, p + eh, p }
  end
  return window_shape(x, node.pad, node.k, node.stride, 1, x[4])
end

local function pool_summary(node)
  local s = string.format("%s %dx%d s%d", node.kind, node.k, node.k, node.stride)
  return node.same_pad and s .. " same" or s
end

-- timm's symmetric padding; pad {top, right, bottom, left} is set by shape,
-- with what ceil_mode adds right and bottom.
ops.maxpool = {
  attrs = { k = "int", stride = "int", padding = "int", ceil_mode = "bool", pad = "table?" },
  spatial = true,
  shape = pool_shape,
  on_output_stride = function() end,
  summary = pool_summary,
}

-- same_pad: timm's AvgPool2dSame (k-1 zeros, the larger half last, counted),
-- which a stride-2 average pool becomes when output_stride dilates it.
ops.avgpool = {
  attrs = { k = "int", stride = "int", padding = "int", ceil_mode = "bool",
            count_include_pad = "bool", same_pad = "bool", pad = "table?" },
  spatial = true,
  shape = function(node, x)
    if node.same_pad then
      local total = node.k - 1
      local a = total // 2
      node.pad = { a, total - a, total - a, a }
    end
    return pool_shape(node, x)
  end,
  on_output_stride = function(node, _, dilated)
    if dilated then node.same_pad, node.count_include_pad = true, true end
  end,
  summary = pool_summary,
}

local function shape_str(s) return "[" .. table.concat(s, ", ") .. "]" end

-- inputs[1] + inputs[2]
ops.add = {
  attrs = { act = "clamp_act?" },
  in_place = 2,
  shape = function(node, x, model)
    local b = model.tensors[node.inputs[2]].shape
    for i = 1, 4 do
      if x[i] ~= b[i] then
        util.fail("%s: residual add of shapes %s and %s", node.name, shape_str(x), shape_str(b))
      end
    end
    return same(node, x)
  end,
  summary = function(node) return "add" .. act_suffix(node) end,
}

-- torch.cat along channels; place_concats turns it into views of its output
-- (producers write their slice) or copies.
ops.concat = {
  attrs = {},
  shape = function(node, x, model)
    local c = 0
    for _, id in ipairs(node.inputs) do
      local s = model.tensors[id].shape
      if s[1] ~= x[1] or s[2] ~= x[2] or s[3] ~= x[3] then
        util.fail("%s: concatenation of shapes %s and %s", node.name, shape_str(x),
                  shape_str(s))
      end
      c = c + s[4]
    end
    return { x[1], x[2], x[3], c }
  end,
  summary = function() return "concat" end,
}

-- inputs[1] into its view output (place_concats)
ops.copy = { attrs = {}, shape = same, summary = function() return "copy" end }

ops.global_pool = {
  attrs = { mode = "one of avg|max" },
  flat = true,
  shape = function(_, x) return { x[1], 1, 1, x[4] } end,
  summary = function(node) return "global " .. node.mode .. " pool" end,
}

-- ECA's 1-d conv across the channels of a pooled vector
ops.eca_conv = {
  attrs = { weight = "string", k = "int" },
  shape = same,
  summary = function(node) return string.format("eca conv1d k%d over channels", node.k) end,
}

-- inputs[1] * inputs[2], the second a pooled vector broadcast over H and W (gating)
ops.scale = { attrs = {}, shape = same, in_place = 1, summary = function() return "x * gate" end }

-- inputs[1] * inputs[2] + inputs[3], the gate as in scale, then the residual
-- add's clamp (fuse_gate_add); the output may overwrite the gated tensor only
ops.scale_add = {
  attrs = { act = "clamp_act?" },
  shape = same,
  in_place = 1,
  summary = function(node) return "x * gate + residual" .. act_suffix(node) end,
}

-- inputs[1] * value
ops.mul_const = {
  attrs = { value = "number" },
  shape = same,
  in_place = 1,
  summary = function(node) return "x * " .. util.float_repr(node.value) end,
}

-- nn.Linear (weight_ndim 2) or a 1x1 conv with bias on a pooled vector (4);
-- bn folded; gate "hard_sigmoid" folded; in_repeat: the input holds that many
-- copies' worth of channels, which the layer sums first.
ops.linear = {
  attrs = { weight = "string", bias = "string", bn = "string?", bn_eps = "number",
            weight_ndim = "int", cin = "int", cout = "int", act = "clamp_act?",
            gate = "one of hard_sigmoid?", in_repeat = "int" },
  flat = true,
  shape = function(node, x) return { x[1], 1, 1, node.cout } end,
  flops = function(node, x) return 2 * x[1] * node.cin * node.in_repeat * node.cout end,
  weights_bytes = weighted_weights_bytes,
  summary = function(node)
    local s = string.format("linear %d->%d", node.cin * node.in_repeat, node.cout)
    if node.in_repeat > 1 then s = s .. string.format(" (summing %d slices)", node.in_repeat) end
    if node.bn then s = s .. ", " .. node.bn .. " folded" end
    if node.gate then s = s .. ", " .. node.gate .. " folded" end
    return s .. act_suffix(node)
  end,
}

-- timm's RadixSoftmax of a pooled vector
ops.rsoftmax = {
  attrs = { radix = "int", groups = "int" },
  shape = same,
  summary = function(node) return "rsoftmax radix " .. node.radix end,
}

-- split attention: sum over r of inputs[1]'s r-th channel slice times inputs[2]'s
ops.radix_sum = {
  attrs = { radix = "int" },
  shape = function(node, x) return { x[1], x[2], x[3], x[4] // node.radix } end,
  summary = function(node) return "radix_sum radix " .. node.radix end,
}

-- Precision changes the quantize pass inserts (spec "precision": "int8"):
-- float32 to int8 at the output tensor's scale and zero point, and back.
ops.quantize = { attrs = {}, shape = same, summary = function() return "f32 -> int8" end }
ops.dequantize = { attrs = {}, shape = same, summary = function() return "int8 -> f32" end }

ops.KINDS = {}
for kind, entry in pairs(ops) do
  if type(entry) == "table" and entry.attrs then
    ops.KINDS[#ops.KINDS + 1] = kind
    entry.kind = kind
  end
end
table.sort(ops.KINDS)

-- The entry of a kind; an unknown kind is an IR error naming the node.
function ops.get(node)
  local entry = type(node.kind) == "string" and ops[node.kind]
  if type(entry) ~= "table" or not entry.attrs then
    util.ir_fail(node, "unknown node kind %s (known: %s)", tostring(node.kind),
                 table.concat(ops.KINDS, ", "))
  end
  return entry
end

-- The state_dict keys a node reads.
function ops.reads(node)
  local entry = ops.get(node)
  if entry.reads then return entry.reads(node) end
  local keys = {}
  if node.weight then keys[#keys + 1] = node.weight end
  if node.bias then keys[#keys + 1] = node.bias end
  if node.bn then
    for _, k in ipairs({ "weight", "bias", "running_mean", "running_var" }) do
      keys[#keys + 1] = node.bn .. "." .. k
    end
  end
  return keys
end

-- Bytes of weights a node reads, its output being of dtype (the entry's
-- weights_bytes rule); numel(key) is a state_dict entry's element count.
function ops.weights_bytes(node, dtype, numel)
  local f = ops.get(node).weights_bytes
  if f then return f(node, dtype, numel) end
  return f32_weights_bytes(node, numel)
end

function ops.flops(node, x, y)
  local f = ops.get(node).flops
  return f and f(node, x, y) or 0
end

local function is_int(v) return math.type(v) == "integer" end

local function known_activations()
  local names = {}
  for n in pairs(activations) do names[#names + 1] = n end
  table.sort(names)
  return table.concat(names, ", ")
end

-- Checks one attribute value against its type; returns an error text or nil.
local function type_error(ty, v)
  if ty == "int" then return not is_int(v) and "an integer" or nil end
  if ty == "number" then return type(v) ~= "number" and "a number" or nil end
  if ty == "string" then return type(v) ~= "string" and "a string" or nil end
  if ty == "bool" then return type(v) ~= "boolean" and "a boolean" or nil end
  if ty == "table" then return type(v) ~= "table" and "a list" or nil end
  if ty == "ids" then
    if type(v) ~= "table" then return "a list of tensor ids" end
    for _, id in ipairs(v) do
      if not is_int(id) then return "a list of tensor ids" end
    end
    return nil
  end
  if ty == "act" or ty == "clamp_act" then
    local a = activations[v]
    if not a then
      return string.format("an activation (one of %s), got '%s'", known_activations(),
                           tostring(v))
    end
    if ty == "clamp_act" and not a.clamp then
      return string.format("an activation that is a clamp (relu, relu6) to be fused; '%s' " ..
                           "needs its own act node (Builder:act)", v)
    end
    return nil
  end
  local choices = ty:match("^one of (.*)$")
  if choices then
    for c in choices:gmatch("[^|]+") do
      if v == c then return nil end
    end
    return "one of " .. choices:gsub("|", ", ") .. ", got '" .. tostring(v) .. "'"
  end
  error("ops: unknown attribute type " .. ty)
end

-- Checks a node against its kind's entry: the common fields, every attribute
-- listed and typed, none unlisted. Raises an IR error naming the node.
function ops.validate(node)
  local entry = ops.get(node)
  if type(node.name) ~= "string" or node.name == "" then
    util.ir_fail(node, "a %s node without a name", node.kind)
  end
  if type(node.inputs) ~= "table" or #node.inputs == 0 then
    util.ir_fail(node, "%s node has no inputs", node.kind)
  end
  for _, id in ipairs(node.inputs) do
    if not is_int(id) then util.ir_fail(node, "input %s is not a tensor id", tostring(id)) end
  end
  if not is_int(node.output) then util.ir_fail(node, "%s node has no output", node.kind) end
  local keys = {}
  for k in pairs(node) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if not ops.COMMON[k] and not entry.attrs[k] then
      util.ir_fail(node, "%s node has an attribute '%s' that %s does not take", node.kind, k,
                   node.kind)
    end
  end
  local names = {}
  for k in pairs(entry.attrs) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local ty = entry.attrs[k]
    local optional = ty:sub(-1) == "?"
    if optional then ty = ty:sub(1, -2) end
    local v = node[k]
    if v == nil then
      if not optional then util.ir_fail(node, "%s node lacks attribute '%s'", node.kind, k) end
    else
      local want = type_error(ty, v)
      if want then util.ir_fail(node, "attribute '%s' must be %s", k, want) end
    end
  end
  return entry
end

return ops
