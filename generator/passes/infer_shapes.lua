-- infer_shapes: NHWC shape of every tensor from the spec's batch and input
-- size (tensor.flat marks pooled vectors); resolves ceil_mode and 'same'
-- padding of pools into explicit pads.
local util = require("util")

local function out_dim(n, pad_a, pad_b, k, s, d)
  return (n + pad_a + pad_b - d * (k - 1) - 1) // s + 1
end

-- PyTorch's ceil_mode: one more window when it starts inside the input or its
-- left padding; the extra pixels it covers become right/bottom padding.
local function ceil_pad(n, p, k, s)
  local o = (n + 2 * p - k + s - 1) // s + 1
  if (o - 1) * s >= n + p then o = o - 1 end
  return math.max(0, (o - 1) * s + k - n - 2 * p), o
end

local shape_of = {}

function shape_of.conv(node, x)
  local p, k, s, d = node.pad, node.k, node.stride, node.dilation
  return { x[1], out_dim(x[2], p[1], p[3], k, s, d), out_dim(x[3], p[4], p[2], k, s, d), node.cout }
end

-- A pool's padding: timm's symmetric padding, plus what ceil_mode adds
-- right and bottom; then its output shape.
local function pool(node, x)
  if not node.same_pad then
    local p = node.padding
    local eh = node.ceil_mode and ceil_pad(x[2], p, node.k, node.stride) or 0
    local ew = node.ceil_mode and ceil_pad(x[3], p, node.k, node.stride) or 0
    node.pad = { p, p + ew, p + eh, p }
  end
  return shape_of.conv({ pad = node.pad, k = node.k, stride = node.stride, dilation = 1,
                         cout = x[4] }, x)
end

shape_of.maxpool = pool

function shape_of.avgpool(node, x)
  if node.same_pad then
    -- timm's pad_same for kernel k, stride 1: k-1 zeros, the larger half last
    local total = node.k - 1
    local a = total // 2
    node.pad = { a, total - a, total - a, a }
  end
  return pool(node, x)
end

function shape_of.add(node, x, model)
  local b = model.tensors[node.inputs[2]].shape
  for i = 1, 4 do
    if x[i] ~= b[i] then
      util.fail("%s: residual add of shapes [%s] and [%s]", node.name,
                table.concat(x, ", "), table.concat(b, ", "))
    end
  end
  return { x[1], x[2], x[3], x[4] }
end

function shape_of.concat(node, x, model)
  local c = 0
  for _, id in ipairs(node.inputs) do
    local s = model.tensors[id].shape
    if s[1] ~= x[1] or s[2] ~= x[2] or s[3] ~= x[3] then
      util.fail("%s: concatenation of shapes [%s] and [%s]", node.name, table.concat(x, ", "),
                table.concat(s, ", "))
    end
    c = c + s[4]
  end
  return { x[1], x[2], x[3], c }
end

function shape_of.global_pool(_, x) return { x[1], 1, 1, x[4] } end

function shape_of.radix_sum(node, x) return { x[1], x[2], x[3], x[4] // node.radix } end

function shape_of.eca_conv(_, x) return { x[1], x[2], x[3], x[4] } end
shape_of.bn_act = shape_of.eca_conv
shape_of.relu = shape_of.eca_conv
shape_of.copy = shape_of.eca_conv
shape_of.rsoftmax = shape_of.eca_conv
shape_of.sigmoid = shape_of.eca_conv
shape_of.mul_const = shape_of.eca_conv
shape_of.scale = shape_of.eca_conv

function shape_of.linear(node, x) return { x[1], 1, 1, node.cout } end

return function(model)
  local spec = model.spec
  local T = model.tensors
  T[model.input].shape = { spec.batch_size, spec.input_size[2], spec.input_size[3],
                           spec.input_size[1] }
  for _, node in ipairs(model.nodes) do
    local fn = assert(shape_of[node.kind], "infer_shapes: no rule for " .. node.kind)
    local shape = fn(node, T[node.inputs[1]].shape, model)
    if shape[2] < 1 or shape[3] < 1 then
      util.fail("%s: input_size [%s] is too small: %s would have an empty output",
                spec.spec_path, table.concat(spec.input_size, ", "), node.name)
    end
    local y = T[node.output]
    y.shape = shape
    -- pooled vectors leave the model as [N, C], feature maps as [N, C, H, W]
    y.flat = node.kind == "global_pool" or node.kind == "linear" or T[node.inputs[1]].flat or false
  end
  return model
end
