-- regnet.lua: timm's RegNet family (timm/models/regnet.py), rebuilt as a timmc
-- graph. Module paths and state_dict keys are timm's: a stem ConvNormAct
-- (stem.conv, stem.bn), stages s1..s4 of blocks b1..bN, each a bottleneck of
-- ConvNormAct conv1/conv2/conv3 with se.{fc1,fc2} after conv2 in the Y models
-- and a downsample ConvNormAct shortcut, then head.global_pool and head.fc.
-- The per-stage widths, depths and group counts are derived from the RegNet
-- parameters (wa, w0, wm, depth, group_size) exactly as timm derives them.
local ir = require("ir")
local layers = require("layers")

local regnet = {}

-- timm computes the block widths in float32 tensors; Lua numbers are doubles,
-- so every float32 operation is rounded back to float32 here.
local function f32(x)
  return (string.unpack("<f", string.pack("<f", x)))
end

-- torch.round and Python's round: halves go to the even neighbour.
local function round_half_even(x)
  local r = math.floor(x + 0.5)
  if r - x == 0.5 and r % 2 ~= 0 then r = r - 1 end
  return math.tointeger(r)
end

-- timm's generate_regnet: the width of every block, quantised to multiples of q.
local function block_widths(wa, w0, wm, depth, q)
  assert(wa >= 0 and w0 > 0 and wm > 1 and w0 % q == 0, "regnet: bad width parameters")
  local wm32, log_wm = f32(wm), f32(math.log(wm))
  local widths = {}
  for i = 0, depth - 1 do
    local cont = f32(f32(i * f32(wa)) + w0)
    local e = round_half_even(f32(f32(math.log(f32(cont / w0))) / log_wm))
    local w = f32(w0 * f32(wm32 ^ e))
    widths[#widths + 1] = round_half_even(f32(w / q)) * q
  end
  return widths
end

-- Stages are the runs of equal block widths (torch.unique, sorted); then
-- timm's adjust_widths_groups_comp with bottle_ratio 1: group size at most
-- the width, width a multiple of the group size.
local function stages(cfg)
  local counts, order = {}, {}
  for _, w in ipairs(block_widths(cfg.wa, cfg.w0, cfg.wm, cfg.depth, 8)) do
    if not counts[w] then order[#order + 1] = w end
    counts[w] = (counts[w] or 0) + 1
  end
  table.sort(order)
  assert(#order == 4, "regnet: expected 4 stages")
  local out = {}
  for i, w in ipairs(order) do
    local g = math.min(cfg.group_size, w)
    out[i] = { width = round_half_even(w / g) * g, depth = counts[w], group_size = g }
  end
  return out
end

local function conv_norm_act(b, x, p, cout, k, stride, groups, act)
  return b:conv_norm_act(x, p, { cout = cout, k = k, stride = stride, groups = groups, act = act })
end

-- timm's RegNet Bottleneck (bottle_ratio 1): SE sits between conv2 and conv3
-- and squeezes to round(in_chs * se_ratio) channels of the block's input.
local function bottleneck(b, x, p, cfg, cout, stride, group_size)
  local cin = b:channels(x)
  local y = conv_norm_act(b, x, p .. ".conv1", cout, 1, 1, 1, "relu")
  y = conv_norm_act(b, y, p .. ".conv2", cout, 3, stride, cout // group_size, "relu")
  if cfg.se_ratio > 0 then
    y = layers.squeeze_excite(b, y, p .. ".se", round_half_even(cin * cfg.se_ratio))
  end
  y = conv_norm_act(b, y, p .. ".conv3", cout, 1, 1, 1, nil)
  local shortcut = x
  if cin ~= cout or stride ~= 1 then
    shortcut = conv_norm_act(b, x, p .. ".downsample", cout, 1, stride, 1, nil)
  end
  return b:add(y, shortcut, p .. ".act3", "relu")
end

-- Builds the full classification model of the spec at output stride 32
-- (apply_output_stride dilates the late stages as timm's RegStage does).
function regnet.build(model)
  local cfg, spec = model.arch.cfg, model.spec
  local b = ir.builder(model)
  local x = b:input()

  x = conv_norm_act(b, x, "stem", 32, 3, 2, 1, "relu")
  b:feature("stem", x)
  for i, st in ipairs(stages(cfg)) do
    local name = "s" .. i
    for j = 1, st.depth do
      x = bottleneck(b, x, string.format("%s.b%d", name, j), cfg, st.width, j == 1 and 2 or 1,
                     st.group_size)
    end
    model.tensors[x].name = name
    b:feature(name, x)
  end
  b:classifier_head(x, spec.num_classes, spec.global_pool, "head.fc", "head.global_pool")
  return model
end

-- The registry: timm's RegNetCfg of each name (se_ratio 0.25 makes a Y model).
local function variant(w0, wa, wm, group_size, depth, se_ratio)
  return { w0 = w0, wa = wa, wm = wm, group_size = group_size, depth = depth,
           se_ratio = se_ratio or 0, input_size = { 3, 224, 224 }, output_stride = { 8, 16, 32 } }
end

regnet.variants = {
  regnetx_002 = variant(24, 36.44, 2.49, 8, 13),
  regnetx_004 = variant(24, 24.48, 2.54, 16, 22),
  regnetx_006 = variant(48, 36.97, 2.24, 24, 16),
  regnetx_008 = variant(56, 35.73, 2.28, 16, 16),
  regnetx_016 = variant(80, 34.01, 2.25, 24, 18),
  regnetx_032 = variant(88, 26.31, 2.25, 48, 25),
  regnety_002 = variant(24, 36.44, 2.49, 8, 13, 0.25),
  regnety_004 = variant(48, 27.89, 2.09, 8, 16, 0.25),
  regnety_006 = variant(48, 32.54, 2.32, 16, 15, 0.25),
  regnety_008 = variant(56, 38.84, 2.4, 16, 14, 0.25),
  regnety_016 = variant(48, 20.71, 2.65, 24, 27, 0.25),
  regnety_032 = variant(80, 42.63, 2.66, 24, 21, 0.25),
  regnety_040 = variant(96, 31.41, 2.24, 64, 22, 0.25),
}

return regnet
