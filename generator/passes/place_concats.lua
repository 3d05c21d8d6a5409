-- place_concats: makes torch.cat cost no copy where it can. A concatenation's
-- output is one tensor; each input becomes a view of its channel slice, so its
-- producer writes straight there through XNNPACK's pixel strides, when the
-- producer can write strided, every other reader can read strided, and the
-- input is not a view already nor something the caller gets back. A
-- concatenation whose inputs begin another, later one's (densenet: each layer
-- reads the block's features so far) becomes a view of that one. What is left
-- is copied into its slice by a copy node where the concatenation was.
-- Which ops read and write through a pixel stride is the backend's to say.
local ir = require("ir")

local function is_prefix(a, b)
  if #a.inputs > #b.inputs then return false end
  for i, id in ipairs(a.inputs) do
    if b.inputs[i] ~= id then return false end
  end
  return true
end

return function(model)
  local T = model.tensors
  local impls = model.backend.ops
  local function strided(node) return impls[node.kind] and impls[node.kind].strided end
  local producer, readers = {}, {}
  for _, node in ipairs(model.nodes) do
    producer[node.output] = node
    for _, id in ipairs(node.inputs) do
      readers[id] = readers[id] or {}
      table.insert(readers[id], node)
    end
  end
  local returned = ir.returned(model)

  local removed = {} -- concatenations that became views
  local function readers_stride_ok(id, except)
    for _, r in ipairs(readers[id] or {}) do
      if r ~= except and not removed[r] and not strided(r) then return false end
    end
    return true
  end

  local function make_view(id, base, offset)
    T[id].base, T[id].chan_offset = base, offset
  end

  -- prefix concatenations become views of the later one they begin
  for i = #model.nodes, 1, -1 do
    local a = model.nodes[i]
    if a.kind == "concat" and not returned[a.output] and readers_stride_ok(a.output) then
      for j = i + 1, #model.nodes do
        local b = model.nodes[j]
        if b.kind == "concat" and not removed[b] and is_prefix(a, b) then
          make_view(a.output, b.output, 0)
          removed[a] = true
          break
        end
      end
    end
  end

  local nodes = {}
  for _, node in ipairs(model.nodes) do
    -- a removed concatenation has nothing to run: its output is a view
    if removed[node] then -- luacheck: ignore 542
    elseif node.kind ~= "concat" then
      nodes[#nodes + 1] = node
    else
      local offset = 0
      for _, id in ipairs(node.inputs) do
        local t = T[id]
        local p = producer[id]
        if p and strided(p) and not t.base and not returned[id] and
           readers_stride_ok(id, node) then
          make_view(id, node.output, offset)
        else
          local v = ir.new_tensor(model, node.name, t.c)
          T[v].shape = { table.unpack(t.shape) }
          make_view(v, node.output, offset)
          nodes[#nodes + 1] = { kind = "copy", name = node.name, inputs = { id }, output = v }
        end
        offset = offset + t.c
      end
    end
  end
  model.nodes = nodes
  return model
end
