-- plan_memory: places every activation in one static arena. Live ranges come
-- from the node order (a tensor is live from the node that first writes it to
-- the last node that reads it, through any of its views; returned tensors to
-- the end; a node's scratch, node.work, for that node alone). Offsets come from
-- a greedy best-fit, as TFLM's greedy planner: each tensor takes the smallest
-- gap, among the tensors already placed that are live at the same time, that
-- holds it; a few orders are tried (largest first, and others) and the
-- smallest arena kept. An elementwise op whose input dies with it
-- writes over that input (tensor.alias; the two share one buffer). The lower
-- bound is the largest total of buffers live at one moment; no placement of
-- them can beat it. Buffers are aligned as the backend asks; their bytes come
-- from the tensors' dtypes. (The spec's max_arena_bytes is fit_arena's.)
local ir = require("ir")
local ops = require("ops")

local plan = {}

-- The orders the greedy placement tries; the smallest arena wins (ties: the
-- first order). Largest first is TFLM's; the others win when buffers of very
-- different sizes and lifetimes interleave (Winograd's tile buffers).
local ORDERS = {
  function(a, b) return a.bytes > b.bytes end,
  function(a, b) return a.bytes * (a.last - a.first + 1) > b.bytes * (b.last - b.first + 1) end,
  function(a, b) return a.last - a.first > b.last - b.first end,
  function(a, b) return a.first < b.first end,
  function(a, b) return a.last > b.last end,
  function(a, b) return a.first > b.first end,
}

-- Best-fit of items in one order: each takes the smallest gap that holds it
-- among the items already placed that are live at the same time.
local function place_in_order(order)
  local placed, offsets, total = {}, {}, 0
  for _, it in ipairs(order) do
    local busy = {}
    for _, p in ipairs(placed) do
      if p.first <= it.last and it.first <= p.last then busy[#busy + 1] = p end
    end
    table.sort(busy, function(a, b)
      return offsets[a.id] < offsets[b.id] or (offsets[a.id] == offsets[b.id] and a.id < b.id)
    end)
    local best, best_gap, cursor = nil, math.huge, 0
    for _, p in ipairs(busy) do
      local gap = offsets[p.id] - cursor
      if gap >= it.bytes and gap < best_gap then best, best_gap = cursor, gap end
      cursor = math.max(cursor, offsets[p.id] + p.bytes)
    end
    offsets[it.id] = best or cursor
    total = math.max(total, offsets[it.id] + it.bytes)
    placed[#placed + 1] = it
  end
  return offsets, total
end

-- items: array of {id, bytes, first, last}; returns offsets by id, arena bytes.
function plan.place(items)
  local best_offsets, best_total
  for _, before in ipairs(ORDERS) do
    local order = {}
    for i, it in ipairs(items) do order[i] = it end
    table.sort(order, function(a, b) -- the order's key, then size, start and id break ties
      if before(a, b) then return true end
      if before(b, a) then return false end
      if a.bytes ~= b.bytes then return a.bytes > b.bytes end
      if a.first ~= b.first then return a.first < b.first end
      return a.id < b.id
    end)
    local offsets, total = place_in_order(order)
    if not best_total or total < best_total then best_offsets, best_total = offsets, total end
  end
  return best_offsets, best_total
end

function plan.lower_bound(items)
  local events = {}
  for _, it in ipairs(items) do
    events[#events + 1] = { t = it.first, d = it.bytes }
    events[#events + 1] = { t = it.last + 0.5, d = -it.bytes }
  end
  table.sort(events, function(a, b) return a.t < b.t or (a.t == b.t and a.d < b.d) end)
  local cur, best = 0, 0
  for _, e in ipairs(events) do
    cur = cur + e.d
    best = math.max(best, cur)
  end
  return best
end

-- How many leading inputs a node may write over: what ops.lua allows,
-- unless the backend's implementation refuses.
local function in_place_inputs(model, node)
  local impl = model.backend.ops[node.kind]
  if impl and impl.in_place == false then return 0 end
  return ops.get(node).in_place or 0
end

local function same_shape(a, b)
  for i = 1, 4 do
    if a[i] ~= b[i] then return false end
  end
  return true
end

-- One plan of the model as it stands: sets tensor first/last/alias/bytes/
-- offset and model.plan.
function plan.run(model)
  local T = model.tensors
  local alignment = model.backend.align
  local function align(n) return (n + alignment - 1) // alignment * alignment end
  for _, t in ipairs(T) do t.first, t.last, t.alias, t.offset, t.bytes = nil, nil, nil, nil, nil end
  local first, last = {}, {}
  local function root(id) return ir.root(model, id).id end
  first[model.input], last[model.input] = 0, 0
  for i, node in ipairs(model.nodes) do
    for _, id in ipairs(node.inputs) do
      local r = root(id)
      last[r] = math.max(last[r] or i, i)
    end
    local r = root(node.output)
    first[r] = first[r] or i
    last[r] = math.max(last[r] or i, i)
    for _, id in ipairs(node.work or {}) do first[id], last[id] = i, i end -- scratch
  end
  local the_end = #model.nodes + 1
  for _, o in ipairs(model.outputs) do last[root(o.tensor)] = the_end end

  -- in place: an elementwise op writes over an input that dies with it
  for i, node in ipairs(model.nodes) do
    local y = T[node.output]
    local n = in_place_inputs(model, node)
    if n > 0 and not y.base and first[y.id] == i then
      for k = 1, n do
        local x = T[node.inputs[k]]
        -- first[x.id] is nil for an alias: no chains, an alias's buffer is planned
        if not x.base and last[x.id] == i and first[x.id] and same_shape(x.shape, y.shape) then
          y.alias = x.id
          last[x.id], first[y.id] = last[y.id], nil
          break
        end
      end
    end
  end

  local items = {}
  for id, t in ipairs(T) do
    if first[id] then
      t.first, t.last = first[id], last[id]
      t.bytes = align(ir.bytes(t))
      items[#items + 1] = { id = id, bytes = t.bytes, first = t.first, last = t.last }
    end
  end
  local offsets, total = plan.place(items)
  for id, off in pairs(offsets) do T[id].offset = off end
  for _, t in ipairs(T) do
    local x = t.alias and T[t.alias]
    if x then t.offset, t.bytes, t.first, t.last = x.offset, x.bytes, x.first, x.last end
  end
  model.plan = { arena_bytes = total, lower_bound_bytes = plan.lower_bound(items),
                 items = items }
  return model
end

return plan
