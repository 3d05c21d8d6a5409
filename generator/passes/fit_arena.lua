-- fit_arena: holds the plan to the spec's max_arena_bytes. Over the budget,
-- the nodes whose op has a plainer form that needs less arena (ops.lua's
-- fallback: Winograd layers that "auto" chose go back to direct
-- convolutions) take it, the one freeing the most bytes first, the plan being
-- made again after each, until it fits (the budget comes before speed). What
-- cannot fit even then is an error naming both sizes.
local ops = require("ops")
local util = require("util")
local plan_memory = require("passes.plan_memory")

return function(model)
  local budget = model.spec.max_arena_bytes
  model.plan.fallbacks = 0
  if not budget or model.plan.arena_bytes <= budget then return model end
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
    if model.plan.arena_bytes <= budget then break end
    ops.get(node).revert(node)
    n = n + 1
    plan_memory.run(model)
  end
  if model.plan.arena_bytes > budget then
    util.fail("%s: key 'max_arena_bytes': the planned arena is %d bytes (lower bound %d%s), " ..
              "over the budget of %d", model.spec.spec_path, model.plan.arena_bytes,
              model.plan.lower_bound_bytes,
              n > 0 and ", every convolution direct" or "", budget)
  end
  model.plan.fallbacks = n
  return model
end
