-- ir.lua: the one intermediate representation every pass reads and writes.
--
-- model = {
--   spec        the validated spec (spec.lua): name, architecture, features_only,
--               out_indices (0-based, sorted), output_stride, num_classes,
--               global_pool, batch_size, input_size {C, H, W}, spec_path
--   arch        the catalogue entry (models/init.lua): name, family, cfg
--   tensors     array of tensor, indexed by tensor.id
--   nodes       array of node in execution order
--   input       id of the input tensor (NHWC copy of the caller's NCHW input)
--   state_dict  array of {name, shape = {...}, init}: every entry of timm's
--               state_dict for the full model, in registration order; this is
--               what --random-weights makes and --save-weights writes
--   features    array of {module, tensor}: timm's feature_info levels
--   backbone_out id of forward_features' result
--   head        {pool = id|nil, logits = id|nil, pool_name, fc_name}: global_pool
--               and fc outputs, and the timm modules they stand for
--   outputs     array of {tensor, module}: what forward returns (select_features)
--   plan        the memory plan (plan_memory): arena_bytes, lower_bound_bytes,
--               items (every planned tensor's {id, bytes, first, last}), and
--               tensor.offset for each
-- }
--
-- tensor = {
--   id, name     name is the timm module path of the producer ("layer1.0.act3")
--   dtype        element type, a key of ir.DTYPES ("f32", "qs8")
--   c            channels (known when the graph is built)
--   shape        {N, H, W, C} (infer_shapes); pooled vectors are {N, 1, 1, C}
--   flat         true for pooled vectors, which timm returns as [N, C]
--   reduction    input pixels per output pixel along one axis (apply_output_stride)
--   dilation     dilation the next spatial op must use (apply_output_stride)
--   base, chan_offset  a view: channels [chan_offset, chan_offset + c) of the
--                tensor base, whose pixels it shares (place_concats); ops read and
--                write it with the base's channel count as pixel stride
--   alias        id of the tensor whose buffer this one overwrites in place
--   first, last  live range as node indices (plan_memory); the input is live from 0
--   offset, bytes  arena placement (plan_memory); a view has neither; an alias
--                has its buffer's
-- }
--
-- node = {
--   kind         a kind of generator/ops.lua, whose entry lists the node's
--                attributes and their types (ops.validate checks them when
--                the node is added, and ir.check after every pass)
--   name         timm module path, used in comments and error messages
--   inputs       array of tensor ids
--   output       tensor id
--   ...          the kind's attributes (see ops.lua)
-- }
--
-- tensor.dtype is one of ir.DTYPES; byte sizes come from it (ir.bytes).
local ops = require("ops")
local util = require("util")

local ir = {}

ir.BN_EPS = 1e-5 -- torch's BatchNorm2d default; a family passes its own as bn_eps

-- Element types: bytes per element and the C type.
ir.DTYPES = {
  f32 = { bytes = 4, c = "float" },
  qs8 = { bytes = 1, c = "int8_t" }, -- int8 with a per-tensor scale and zero point (quantize)
}

function ir.new_model(spec, arch)
  return { spec = spec, arch = arch, tensors = {}, nodes = {}, state_dict = {}, features = {} }
end

function ir.new_tensor(model, name, c, dtype)
  dtype = dtype or "f32"
  assert(ir.DTYPES[dtype], "unknown dtype " .. tostring(dtype))
  local t = { id = #model.tensors + 1, name = name, c = c, dtype = dtype }
  model.tensors[t.id] = t
  return t.id
end

-- Bytes of one element of tensor t, and of all of it (its shape known).
function ir.elem_bytes(t) return ir.DTYPES[t.dtype].bytes end

function ir.bytes(t) return util.prod(t.shape) * ir.elem_bytes(t) end

-- The tensor that owns a view's memory, and the view's channel offset in it.
function ir.root(model, id)
  local offset = 0
  local t = model.tensors[id]
  while t.base do
    offset = offset + t.chan_offset
    t = model.tensors[t.base]
  end
  return t, offset
end

-- The tensors the model hands out: its input, its outputs, forward_features'
-- result and the head's pooled vector. A pass may neither fold them into
-- another node nor make them views.
function ir.returned(model)
  local r = { [model.input] = true }
  for _, o in ipairs(model.outputs) do r[o.tensor] = true end
  if model.backbone_out then r[model.backbone_out] = true end
  if model.head and model.head.pool then r[model.head.pool] = true end
  return r
end

-- How many nodes read each tensor, and the index in model.nodes of the node
-- that writes it.
local function uses(model)
  local readers, producer = {}, {}
  for i, node in ipairs(model.nodes) do
    producer[node.output] = i
    for _, id in ipairs(node.inputs) do readers[id] = (readers[id] or 0) + 1 end
  end
  return readers, producer
end

-- For the fusion passes: a function telling whether a tensor may be folded
-- into the one node that reads it (that node alone reads it, the model does
-- not hand it out, ir.returned, and it is no view of another tensor), and
-- the index in model.nodes of each tensor's producer.
function ir.foldable(model)
  local readers, producer = uses(model)
  local returned = ir.returned(model)
  return function(id)
    return readers[id] == 1 and not returned[id] and not model.tensors[id].base
  end, producer
end

-- model.nodes without the nodes whose indices are keys of drop.
function ir.drop_nodes(model, drop)
  local nodes = {}
  for i, node in ipairs(model.nodes) do
    if not drop[i] then nodes[#nodes + 1] = node end
  end
  model.nodes = nodes
end

function ir.add_node(model, node)
  ops.validate(node)
  model.nodes[#model.nodes + 1] = node
  return node
end

-- The IR's rules, checked on a whole model (after every pass in the tests,
-- and in the CLI under TIMMC_CHECK_IR=1): every node valid for its kind
-- (ops.validate), reading tensors that exist and were written before it,
-- writing one that exists; tensors of a known dtype, with 4-d shapes once
-- infer_shapes has run. The first problem is an IR error naming the node.
function ir.check(model)
  local T = model.tensors
  for id, t in ipairs(T) do
    if t.id ~= id then util.ir_fail(t, "tensor %d has id %s", id, tostring(t.id)) end
    if not ir.DTYPES[t.dtype] then
      util.ir_fail(t, "tensor t%d has an unknown dtype %s", id, tostring(t.dtype))
    end
    if t.shape and (#t.shape ~= 4 or util.prod(t.shape) < 1) then
      util.ir_fail(t, "tensor t%d has shape [%s], expected 4 positive sizes", id,
                   table.concat(t.shape, ", "))
    end
  end
  local written = { [model.input] = true }
  for _, node in ipairs(model.nodes) do
    ops.validate(node)
    for _, id in ipairs(node.inputs) do
      if not T[id] then util.ir_fail(node, "reads tensor %s, which does not exist", id) end
      if not written[id] and not T[id].base then
        util.ir_fail(node, "reads %s (t%d) before any node writes it", T[id].name, id)
      end
    end
    if not T[node.output] then
      util.ir_fail(node, "writes tensor %s, which does not exist", node.output)
    end
    if T[node.inputs[1]].shape and not T[node.output].shape then
      util.ir_fail(node, "output t%d has no shape", node.output)
    end
    written[node.output] = true
    written[ir.root(model, node.output).id] = true -- through a view (place_concats)
  end
  return model
end

function ir.add_param(model, name, shape, init)
  model.state_dict[#model.state_dict + 1] = { name = name, shape = shape, init = init }
end

-- timm's output_stride rule, for the model files whose structure depends on
-- it (a block timm builds with stride 1 may lose its shortcut conv or pool):
-- a stride that would take the network's reduction past output_stride is
-- turned into dilation. apply_output_stride applies the same rule to the graph.
function ir.dilated_by_output_stride(reduction, stride, output_stride)
  return stride > 1 and reduction * stride > output_stride
end

-- Graph builder used by the architecture files in models/. Each method takes
-- input tensor ids and returns the output tensor id; parameters are registered
-- under timm's state_dict names as they are met.
local Builder = {}
Builder.__index = Builder

function ir.builder(model)
  return setmetatable({ m = model }, Builder)
end

function Builder:channels(x) return self.m.tensors[x].c end

-- The model input (the NHWC copy of the caller's image), of the spec's channels.
function Builder:input()
  local x = ir.new_tensor(self.m, "input", self.m.spec.input_size[1])
  self.m.input = x
  return x
end

function Builder:batchnorm_params(bn, c)
  for _, p in ipairs({ { "weight", "scale" }, { "bias", "bias" }, { "running_mean", "bias" },
                       { "running_var", "scale" } }) do
    ir.add_param(self.m, bn .. "." .. p[1], { c }, p[2])
  end
  ir.add_param(self.m, bn .. ".num_batches_tracked", {}, "count")
end

-- An activation (activations.lua) on x, as the module name.
function Builder:act(x, fn, name)
  return self:unary("act", x, name, { fn = fn })
end

-- A node's activation: fused into it when it is a clamp (relu, relu6), else
-- (silu, hard_swish...) an act node after it, whose output then stands for
-- the module out_name. Returns the attribute to fuse, and a function that
-- finishes the output.
function Builder:split_act(act)
  local a = act and ops.activations[act]
  if not act or (a and a.clamp) then
    return act, function(y) return y end
  end
  return nil, function(y, out_name)
    return self:act(y, act, out_name)
  end
end

-- conv [+ BatchNorm folded] [+ activation]. opts: name, cout, k, stride, groups,
-- bias, bn (BatchNorm module path), bn_eps (default ir.BN_EPS), act, out_name
-- (module the output stands for), same_pad (TensorFlow's 'SAME' padding)
function Builder:conv(x, o)
  local cin = self:channels(x)
  local groups = o.groups or 1
  ir.add_param(self.m, o.name .. ".weight", { o.cout, cin // groups, o.k, o.k }, "fan_in")
  if o.bias then ir.add_param(self.m, o.name .. ".bias", { o.cout }, "bias") end
  if o.bn then self:batchnorm_params(o.bn, o.cout) end
  local act, finish = self:split_act(o.act)
  local y = ir.new_tensor(self.m, o.out_name or o.name, o.cout)
  ir.add_node(self.m, {
    kind = "conv", name = o.name, inputs = { x }, output = y,
    weight = o.name .. ".weight", bias = o.bias and (o.name .. ".bias") or nil, bn = o.bn,
    bn_eps = o.bn_eps or ir.BN_EPS,
    cin = cin, cout = o.cout, k = o.k, stride = o.stride or 1, dilation = 1, groups = groups,
    act = act, same_pad = o.same_pad,
  })
  return finish(y, o.out_name or o.name)
end

-- timm's ConvNormAct p: conv p.conv, BatchNorm p.bn folded, act; the output
-- stands for module p. o: cout, k, stride, groups, act, bn_eps.
function Builder:conv_norm_act(x, p, o)
  return self:conv(x, { name = p .. ".conv", cout = o.cout, k = o.k, stride = o.stride,
                        groups = o.groups, bn = p .. ".bn", bn_eps = o.bn_eps, act = o.act,
                        out_name = p })
end

-- BatchNorm [+ activation] with no conv before it to fold into (densenet's norm1).
function Builder:bn_act(x, bn, act)
  self:batchnorm_params(bn, self:channels(x))
  local fused, finish = self:split_act(act)
  return finish(self:unary("bn_act", x, bn, { bn = bn, act = fused, bn_eps = ir.BN_EPS }), bn)
end

function Builder:maxpool(x, name, k, stride, padding, ceil_mode)
  local y = ir.new_tensor(self.m, name, self:channels(x))
  ir.add_node(self.m, { kind = "maxpool", name = name, inputs = { x }, output = y, k = k,
                        stride = stride, padding = padding, ceil_mode = ceil_mode or false })
  return y
end

function Builder:avgpool(x, name, k, stride, ceil_mode, count_include_pad, padding)
  local y = ir.new_tensor(self.m, name, self:channels(x))
  ir.add_node(self.m, { kind = "avgpool", name = name, inputs = { x }, output = y, k = k,
                        stride = stride, padding = padding or 0, ceil_mode = ceil_mode,
                        count_include_pad = count_include_pad, same_pad = false })
  return y
end

function Builder:add(a, b, name, act)
  assert(self:channels(a) == self:channels(b), name .. ": add of different widths")
  local fused, finish = self:split_act(act)
  local y = ir.new_tensor(self.m, name, self:channels(a))
  ir.add_node(self.m, { kind = "add", name = name, inputs = { a, b }, output = y, act = fused })
  return finish(y, name)
end

-- torch.cat(xs, dim=1)
function Builder:concat(xs, name)
  local c = 0
  for _, x in ipairs(xs) do c = c + self:channels(x) end
  local y = ir.new_tensor(self.m, name, c)
  ir.add_node(self.m, { kind = "concat", name = name, inputs = { table.unpack(xs) }, output = y })
  return y
end

-- Global pooling to {N,1,1,C}.
function Builder:global_pool(x, name, mode)
  return self:unary("global_pool", x, name, { mode = mode })
end

function Builder:unary(kind, x, name, attrs)
  local y = ir.new_tensor(self.m, name, self:channels(x))
  local node = { kind = kind, name = name, inputs = { x }, output = y }
  for k, v in pairs(attrs or {}) do node[k] = v end
  ir.add_node(self.m, node)
  return y
end

function Builder:scale(x, gate, name)
  local y = ir.new_tensor(self.m, name, self:channels(x))
  ir.add_node(self.m, { kind = "scale", name = name, inputs = { x, gate }, output = y })
  return y
end

-- Split attention's weighted sum of the radix splits of y by the softmaxed
-- attention a (see runtime/timmc_rt.h): C / radix channels out.
function Builder:radix_sum(y, a, name, radix)
  local out = ir.new_tensor(self.m, name, self:channels(y) // radix)
  ir.add_node(self.m, { kind = "radix_sum", name = name, inputs = { y, a }, output = out,
                        radix = radix })
  return out
end

function Builder:eca_conv(x, name, k)
  ir.add_param(self.m, name .. ".weight", { 1, 1, k }, "fan_in")
  return self:unary("eca_conv", x, name, { weight = name .. ".weight", k = k })
end

-- The weight and bias of a linear layer (see Builder:linear).
function Builder:linear_params(name, cin, cout, weight_ndim)
  ir.add_param(self.m, name .. ".weight", weight_ndim == 4 and { cout, cin, 1, 1 } or { cout, cin },
               "fan_in")
  ir.add_param(self.m, name .. ".bias", { cout }, "bias")
end

-- nn.Linear (weight [out, in]); the 1x1 convs with bias that SE-style blocks
-- run on a pooled vector work the same way but keep timm's [out, in, 1, 1]
-- (o.weight_ndim 4). o: act, weight_ndim, bn (BatchNorm after it, folded),
-- gate ("hard_sigmoid", folded), in_repeat (see ir.lua), out_name.
function Builder:linear(x, name, cout, o)
  o = o or {}
  local in_repeat = o.in_repeat or 1
  local cin = self:channels(x) // in_repeat
  local weight_ndim = o.weight_ndim or 2
  self:linear_params(name, cin, cout, weight_ndim)
  if o.bn then self:batchnorm_params(o.bn, cout) end
  local act, finish = self:split_act(o.act)
  local y = ir.new_tensor(self.m, o.out_name or name, cout)
  ir.add_node(self.m, { kind = "linear", name = name, inputs = { x }, output = y,
                        weight = name .. ".weight", bias = name .. ".bias", bn = o.bn,
                        bn_eps = o.bn_eps or ir.BN_EPS,
                        weight_ndim = weight_ndim, cin = cin, cout = cout, act = act,
                        gate = o.gate, in_repeat = in_repeat })
  return finish(y, o.out_name or name)
end

function Builder:feature(module, x)
  self.m.features[#self.m.features + 1] = { module = module, tensor = x }
end

-- timm's SelectAdaptivePool2d of type global_pool ("avg", "max", "avgmax",
-- "catavgmax") as the module pool: a pooled vector.
function Builder:pool_head(x, global_pool, pool)
  if global_pool == "avg" or global_pool == "max" then
    return self:global_pool(x, pool, global_pool)
  elseif global_pool == "avgmax" then
    local a = self:global_pool(x, pool, "avg")
    local b = self:global_pool(x, pool, "max")
    return self:unary("mul_const", self:add(a, b, pool), pool, { value = 0.5 })
  end
  assert(global_pool == "catavgmax", global_pool)
  return self:concat({ self:global_pool(x, pool, "avg"), self:global_pool(x, pool, "max") }, pool)
end

-- timm's classifier head: global pool (flattened) then the classifier, as
-- create_classifier builds it. fc: the classifier's module path ("fc",
-- "classifier", "head.fc"); pool: the pooling module's ("global_pool").
function Builder:classifier_head(x, num_classes, global_pool, fc, pool)
  local m = self.m
  fc, pool = fc or "fc", pool or "global_pool"
  m.backbone_out = x
  m.head = {}
  if global_pool == "" then
    -- only a features_only spec gets here with a classifier: its weights are in
    -- the state_dict (timm builds the fc) but nothing runs it
    if num_classes > 0 then self:linear_params(fc, self:channels(x), num_classes, 2) end
    return
  end
  local pooled = self:pool_head(x, global_pool, pool)
  m.head.pool = pooled
  m.head.pool_name = pool
  if num_classes > 0 then
    m.head.logits = self:linear(pooled, fc, num_classes)
    m.head.fc_name = fc
  end
end

return ir
