-- layers.lua: helpers the families share, as timm/layers/ shares them.
local layers = {}

-- timm's make_divisible: v rounded to the nearest multiple of divisor, at
-- least min_value (default divisor), bumped up a divisor when rounding lost
-- more than (1 - round_limit) of v (default 0.9).
function layers.make_divisible(v, divisor, min_value, round_limit)
  min_value, round_limit = min_value or divisor, round_limit or 0.9
  local new_v = math.max(min_value, math.floor(v + divisor / 2) // divisor * divisor)
  if new_v < round_limit * v then new_v = new_v + divisor end
  return math.tointeger(new_v)
end

-- timm's SEModule (and RegNet's SE): global average pool, fc1 down to rd
-- channels with ReLU, fc2 back, sigmoid, x times the gate. Its modules are
-- PREFIX.fc1, .fc2 (1x1 convs with bias) and PREFIX.gate.
function layers.squeeze_excite(b, x, prefix, rd)
  local s = b:global_pool(x, prefix, "avg")
  s = b:linear(s, prefix .. ".fc1", rd, { act = "relu", weight_ndim = 4 })
  s = b:linear(s, prefix .. ".fc2", b:channels(x), { weight_ndim = 4 })
  s = b:act(s, "sigmoid", prefix .. ".gate")
  return b:scale(x, s, prefix)
end

return layers
