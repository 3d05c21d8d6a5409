-- fit_arena: holds the plan to the spec's max_arena_bytes and to what a
-- static array can be. Over either, the nodes whose op has a plainer form
-- that needs less arena (ops.lua's fallback: Winograd layers that "auto"
-- chose go back to direct convolutions) take it, the one freeing the most
-- bytes first, the plan being made again after each, until it fits (the
-- budget comes before speed). What cannot fit even then is an error naming
-- both sizes.
local ops = require("ops")
local util = require("util")
local plan_memory = require("passes.plan_memory")

-- The largest arena a static array can be with the compilers' default code
-- model (x86-64 and aarch64 "small"): 2 GiB, less 16 MiB for everything else.
local MAX_STATIC_BYTES = (1 << 31) - (1 << 24)

return function(model)
  local budget = model.spec.max_arena_bytes
  local limit = math.min(budget or MAX_STATIC_BYTES, MAX_STATIC_BYTES)
  model.plan.fallbacks = 0
  if model.plan.arena_bytes <= limit then return model end
  local candidates, freed = {}, {}
  for _, node in ipairs(model.nodes) do
    local op = ops.get(node)
    local bytes = op.fallback and op.fallback(node, model)
    if bytes then
      candidates[#candidates + 1] = node
      freed[node] = bytes
    end
  end
  table.sort(candidates, function(a, b)
    return freed[a] > freed[b] or (freed[a] == freed[b] and a.name < b.name)
  end)
  local n = 0
  for _, node in ipairs(candidates) do
    if model.plan.arena_bytes <= limit then break end
    ops.get(node).revert(node)
    n = n + 1
    plan_memory.run(model)
  end
  local p = model.plan
  if p.arena_bytes > limit then
    local direct = n > 0 and ", every convolution direct" or ""
    if budget and budget == limit then
      util.fail("%s: key 'max_arena_bytes': the planned arena is %d bytes (lower bound %d%s), " ..
                "over the budget of %d", model.spec.spec_path, p.arena_bytes, p.lower_bound_bytes,
                direct, budget)
    end
    util.fail("%s: the planned arena is %d bytes (lower bound %d%s), over the %d a static " ..
              "array can take (2 GiB less 16 MiB, the default code model): reduce batch_size " ..
              "or input_size", model.spec.spec_path, p.arena_bytes, p.lower_bound_bytes, direct,
              MAX_STATIC_BYTES)
  end
  model.plan.fallbacks = n
  return model
end
