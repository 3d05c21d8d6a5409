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
--   head        {pool = id|nil, logits = id|nil}: global_pool and fc outputs
--   outputs     array of {tensor, module}: what forward returns (select_features)
--   entries     {features_last, pool_last}: node indices where forward_features
--               and forward_head(pre_logits) end (select_features; not features_only)
--   plan        the memory plan (plan_memory): arena_bytes, lower_bound_bytes,
--               items (every planned tensor's {id, bytes, first, last}), and
--               tensor.offset for each
-- }
--
-- tensor = {
--   id, name     name is the timm module path of the producer ("layer1.0.act3")
--   c            channels (known when the graph is built)
--   shape        {N, H, W, C} (infer_shapes); pooled vectors are {N, 1, 1, C}
--   flat         true for pooled vectors, which timm returns as [N, C]
--   reduction    input pixels per output pixel along one axis (apply_output_stride)
--   dilation     dilation the next spatial op must use (apply_output_stride)
--   first, last  live range as node indices (plan_memory); the input is live from 0
--   offset, bytes  arena placement (plan_memory)
-- }
--
-- node = {
--   kind         one of the kinds below; emit_c has one emitter per kind
--   name         timm module path, used in comments and error messages
--   inputs       array of tensor ids
--   output       tensor id
--   out_offset   channel offset in the output (catavgmax writes two slices)
--   ...          kind attributes:
--   conv         weight (state_dict key), bias (key|nil), bn (module path|nil),
--                cin, cout, k, stride, dilation, groups, act ("relu"|nil),
--                pad {top, right, bottom, left} (set by apply_output_stride)
--   maxpool      k, stride, padding (symmetric, timm's); pad as for conv
--   avgpool      k, stride, ceil_mode, count_include_pad; pad set by infer_shapes
--   add          act ("relu"|nil): inputs[1] + inputs[2]
--   global_pool  mode ("avg"|"max")
--   eca_conv     weight, k: 1-d conv across the channels of a pooled vector
--   sigmoid      -
--   scale        inputs[1] * inputs[2] broadcast over H and W (gating)
--   mul_const    value: inputs[1] * value
--   linear       weight, bias, weight_ndim (2 for nn.Linear, 4 for a 1x1 conv),
--                cin, cout, act
-- }
local ir = {}

ir.node_kinds = {
  conv = true, maxpool = true, avgpool = true, add = true, global_pool = true,
  eca_conv = true, sigmoid = true, scale = true, mul_const = true, linear = true,
}

function ir.new_model(spec, arch)
  return { spec = spec, arch = arch, tensors = {}, nodes = {}, state_dict = {}, features = {} }
end

function ir.new_tensor(model, name, c)
  local t = { id = #model.tensors + 1, name = name, c = c }
  model.tensors[t.id] = t
  return t.id
end

function ir.add_node(model, node)
  assert(ir.node_kinds[node.kind], "unknown node kind " .. tostring(node.kind))
  model.nodes[#model.nodes + 1] = node
  return node
end

function ir.add_param(model, name, shape, init)
  model.state_dict[#model.state_dict + 1] = { name = name, shape = shape, init = init }
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

function Builder:batchnorm_params(bn, c)
  for _, p in ipairs({ { "weight", "scale" }, { "bias", "bias" }, { "running_mean", "bias" },
                       { "running_var", "scale" } }) do
    ir.add_param(self.m, bn .. "." .. p[1], { c }, p[2])
  end
  ir.add_param(self.m, bn .. ".num_batches_tracked", {}, "count")
end

-- conv [+ BatchNorm folded] [+ ReLU]. opts: name, cout, k, stride, groups,
-- bias, bn (BatchNorm module path), act, out_name (module the output stands for)
function Builder:conv(x, o)
  local cin = self:channels(x)
  local groups = o.groups or 1
  ir.add_param(self.m, o.name .. ".weight", { o.cout, cin // groups, o.k, o.k }, "fan_in")
  if o.bias then ir.add_param(self.m, o.name .. ".bias", { o.cout }, "bias") end
  if o.bn then self:batchnorm_params(o.bn, o.cout) end
  local y = ir.new_tensor(self.m, o.out_name or o.name, o.cout)
  ir.add_node(self.m, {
    kind = "conv", name = o.name, inputs = { x }, output = y,
    weight = o.name .. ".weight", bias = o.bias and (o.name .. ".bias") or nil, bn = o.bn,
    cin = cin, cout = o.cout, k = o.k, stride = o.stride or 1, dilation = 1, groups = groups,
    act = o.act,
  })
  return y
end

function Builder:maxpool(x, name, k, stride, padding)
  local y = ir.new_tensor(self.m, name, self:channels(x))
  ir.add_node(self.m, { kind = "maxpool", name = name, inputs = { x }, output = y,
                        k = k, stride = stride, padding = padding, dilation = 1 })
  return y
end

function Builder:avgpool(x, name, k, stride, ceil_mode, count_include_pad)
  local y = ir.new_tensor(self.m, name, self:channels(x))
  ir.add_node(self.m, { kind = "avgpool", name = name, inputs = { x }, output = y, k = k,
                        stride = stride, ceil_mode = ceil_mode,
                        count_include_pad = count_include_pad, same_pad = false })
  return y
end

function Builder:add(a, b, name, act)
  assert(self:channels(a) == self:channels(b), name .. ": add of different widths")
  local y = ir.new_tensor(self.m, name, self:channels(a))
  ir.add_node(self.m, { kind = "add", name = name, inputs = { a, b }, output = y, act = act })
  return y
end

-- Global pooling to {N,1,1,C}; `into`/`offset` write a channel slice of an
-- existing tensor (catavgmax).
function Builder:global_pool(x, name, mode, into, offset)
  local y = into or ir.new_tensor(self.m, name, self:channels(x))
  ir.add_node(self.m, { kind = "global_pool", name = name, mode = mode, inputs = { x },
                        output = y, out_offset = offset or 0 })
  return y
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

function Builder:eca_conv(x, name, k)
  ir.add_param(self.m, name .. ".weight", { 1, 1, k }, "fan_in")
  return self:unary("eca_conv", x, name, { weight = name .. ".weight", k = k })
end

-- nn.Linear (weight [out, in]); SE blocks' 1x1 convs with bias on a pooled
-- vector run the same way but keep timm's [out, in, 1, 1] (weight_ndim 4).
function Builder:linear(x, name, cout, act, weight_ndim)
  local cin = self:channels(x)
  weight_ndim = weight_ndim or 2
  ir.add_param(self.m, name .. ".weight", weight_ndim == 4 and { cout, cin, 1, 1 } or { cout, cin },
               "fan_in")
  ir.add_param(self.m, name .. ".bias", { cout }, "bias")
  local y = ir.new_tensor(self.m, name, cout)
  ir.add_node(self.m, { kind = "linear", name = name, inputs = { x }, output = y,
                        weight = name .. ".weight", bias = name .. ".bias",
                        weight_ndim = weight_ndim, cin = cin, cout = cout, act = act })
  return y
end

function Builder:feature(module, x)
  self.m.features[#self.m.features + 1] = { module = module, tensor = x }
end

-- timm's classifier head: global pool (flattened) then fc, per create_classifier.
function Builder:classifier_head(x, num_classes, global_pool)
  local m = self.m
  m.backbone_out = x
  m.head = {}
  if global_pool == "" then
    -- only a features_only spec gets here with a classifier: its weights are in
    -- the state_dict (timm builds the fc) but nothing runs it
    if num_classes > 0 then
      ir.add_param(m, "fc.weight", { num_classes, self:channels(x) }, "fan_in")
      ir.add_param(m, "fc.bias", { num_classes }, "bias")
    end
    return
  end
  local c = self:channels(x)
  local pooled
  if global_pool == "avg" or global_pool == "max" then
    pooled = self:global_pool(x, "global_pool", global_pool)
  elseif global_pool == "avgmax" then
    local a = self:global_pool(x, "global_pool", "avg")
    local b = self:global_pool(x, "global_pool", "max")
    local s = self:add(a, b, "global_pool")
    pooled = self:unary("mul_const", s, "global_pool", { value = 0.5 })
  elseif global_pool == "catavgmax" then
    pooled = ir.new_tensor(m, "global_pool", 2 * c)
    self:global_pool(x, "global_pool", "avg", pooled, 0)
    self:global_pool(x, "global_pool", "max", pooled, c)
  end
  m.head.pool = pooled
  if num_classes > 0 then
    m.head.logits = self:linear(pooled, "fc", num_classes)
  end
end

-- Tensor ids a node reads, then the one it writes, for passes that walk the graph.
function ir.node_tensors(node)
  return node.inputs, node.output
end

return ir
