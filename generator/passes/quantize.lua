-- quantize: the spec's "precision": "int8" (docs/int8.md). Chooses the nodes
-- that run in int8 (per-tensor int8 activations, per-channel int8 weights):
-- those the backend has an int8 form for (backend.ops[kind].int8(node,
-- is_output) says whether it takes this node; same_scale(node) whether the
-- output must keep its input's scale, as max pooling's does), except
-- concatenations, whose inputs share one buffer and so would have to share
-- one scale. Between an int8 node and a float32 one it inserts a quantize or
-- dequantize node. What the API returns stays float32: forward's outputs and
-- the tensors the entry points start or stop at (the backbone's output and
-- the pooled vector) are dequantized right after they are made; what reads
-- the backbone's output later reads the float32 copy forward_head writes
-- (quantized again where an int8 node does, with the same scale, so the
-- values are the same), and int8 readers of a feature level the int8 tensor.
--
-- Every tensor gets a key (t.qkey) for every precision, so that the float32
-- reference model (what calibration runs) and the int8 model name a tensor's
-- range alike: its timm module, with "#2", "#3"... on the second and later
-- tensors of the same module. The int8 checkpoint holds the range of tensor
-- KEY under "KEY.act_range" (docs/int8.md).
local ir = require("ir")
local ops = require("ops")
local util = require("util")

local quantize = {}

function quantize.keys(model)
  local seen = {}
  for _, t in ipairs(model.tensors) do
    if not t.qkey then
      seen[t.name] = (seen[t.name] or 0) + 1
      t.qkey = seen[t.name] == 1 and t.name or (t.name .. "#" .. seen[t.name])
    end
  end
end

-- Tensors the API reads or writes as float32, and where each is recorded.
local function boundaries(model)
  local ids = {}
  for _, o in ipairs(model.outputs) do ids[o.tensor] = true end
  if model.backbone_out then ids[model.backbone_out] = true end
  if model.head and model.head.pool then ids[model.head.pool] = true end
  return ids
end

local function retarget(model, old, new)
  for _, o in ipairs(model.outputs) do
    if o.tensor == old then o.tensor = new end
  end
  if model.backbone_out == old then model.backbone_out = new end
  if model.head and model.head.pool == old then model.head.pool = new end
end

function quantize.run(model)
  quantize.keys(model)
  if model.spec.precision ~= "int8" then return model end
  local T, backend = model.tensors, model.backend
  local any = false
  for _, impl in pairs(backend.ops) do any = any or impl.int8 ~= nil end
  if not any then
    util.fail("%s: key 'precision': the %s backend has no int8 operators (use \"f32\")",
              model.spec.spec_path, backend.name)
  end
  local shared = {} -- inputs and outputs of concatenations stay float32
  for _, node in ipairs(model.nodes) do
    if node.kind == "concat" then
      shared[node.output] = true
      for _, id in ipairs(node.inputs) do shared[id] = true end
    end
  end
  local nodes = {}
  local f32, q8 = { [model.input] = model.input }, {} -- tensor -> its float32 / int8 form
  local function convert(kind, from, src, dtype)
    local t = T[from]
    local id = ir.new_tensor(model, t.name, t.c, dtype)
    local u = T[id]
    u.shape, u.flat, u.reduction, u.dilation, u.qkey = t.shape, t.flat, t.reduction, t.dilation,
                                                        t.qkey
    local node = { kind = kind, name = t.name, inputs = { src }, output = id }
    ops.validate(node)
    nodes[#nodes + 1] = node
    return id
  end
  local function as_q8(id)
    if not q8[id] then q8[id] = convert("quantize", id, f32[id], "qs8") end
    return q8[id]
  end
  local function as_f32(id)
    if not f32[id] then f32[id] = convert("dequantize", id, q8[id], "f32") end
    return f32[id]
  end
  local boundary = boundaries(model)
  for _, node in ipairs(model.nodes) do
    local impl = backend.ops[node.kind]
    local int8 = impl and impl.int8 and impl.int8(node, boundary[node.output])
                 and not shared[node.output]
    for i, id in ipairs(node.inputs) do
      node.inputs[i] = int8 and as_q8(id) or as_f32(id)
    end
    nodes[#nodes + 1] = node
    local y = node.output
    if int8 then
      T[y].dtype, q8[y] = "qs8", y
      if impl.same_scale and impl.same_scale(node) then T[y].qkey = T[node.inputs[1]].qkey end
      if boundary[y] then
        local starts_head = y == model.backbone_out and not model.spec.features_only
        retarget(model, y, as_f32(y))
        -- forward_head starts from the float32 copy it writes: later int8
        -- readers quantize that; a feature level's readers keep the int8 one
        if starts_head then q8[y] = nil end
      end
    else
      f32[y] = y
    end
  end
  model.nodes = nodes
  return model
end

return quantize
