-- efficientnet_builder.lua: timm's EfficientNet builder and its blocks
-- (timm/models/_efficientnet_builder.py and _efficientnet_blocks.py), shared
-- by efficientnet.lua and mobilenetv3.lua. An architecture is a list of
-- stages, each a list of block strings such as "ir_r2_k3_s2_e6_c24_se0.25";
-- the builder decodes them, scales channels and depth as timm does, and
-- builds the blocks under timm's module names (blocks.STAGE.BLOCK.conv_pw ...).
-- The graph is built at output stride 32: apply_output_stride turns strides
-- into dilation as timm's builder does (the converted block keeps the
-- dilation it had, the blocks after it take the new one).
local layers = require("layers")
local util = require("util")

local builder = {}

-- Python's round(): halves go to the even neighbour.
function builder.pyround(x)
  local f = math.floor(x)
  local d = x - f
  if d > 0.5 or (d == 0.5 and f % 2 == 1) then f = f + 1 end
  return math.tointeger(f)
end

-- timm's round_channels: channels times the width multiplier, made divisible.
function builder.round_channels(chs, multiplier, divisor, round_limit)
  if not multiplier or multiplier == 0 then return chs end
  return layers.make_divisible(chs * multiplier, divisor or 8, nil, round_limit or 0.9)
end

local ACTS = { re = "relu", r6 = "relu6", hs = "hard_swish", sw = "silu" }

local function split(s, sep)
  local out = {}
  for part in (s .. sep):gmatch("(.-)" .. sep) do out[#out + 1] = part end
  return out
end

-- One block string -> its arguments and repeat count (timm's _decode_block_str).
function builder.decode_block(s, arch)
  local ops = split(s, "_")
  local bt = ops[1]
  local opt, skip = {}, nil
  for i = 2, #ops do
    local op = ops[i]
    if op == "noskip" then
      skip = false
    elseif op == "skip" then
      skip = true
    elseif op:sub(1, 1) == "n" then
      opt.n = ACTS[op:sub(2)] or error(arch .. ": activation '" .. op .. "' in " .. s)
    else
      local key, value = op:match("^(%D*)(%d.*)$")
      if key then opt[key] = value end
    end
  end
  local function int(key, default)
    if opt[key] == nil then return default end
    return math.tointeger(tonumber(opt[key])) or error(arch .. ": " .. key .. " in " .. s)
  end
  local function num(key, default) return opt[key] and tonumber(opt[key]) or default end
  local a = { block_type = bt, out_chs = int("c"), stride = int("s"), act = opt.n,
              group_size = int("gs") }
  if (bt == "ir" or bt == "ds") and opt.d then
    util.fail("%s: timm's space-to-depth blocks are not supported yet (%s)", arch, s)
  end
  if bt == "ir" then
    a.dw_k, a.exp_k, a.pw_k = int("k"), int("a", 1), int("p", 1)
    a.exp_ratio, a.se_ratio, a.noskip = num("e"), num("se", 0), skip == false
  elseif bt == "ds" or bt == "dsa" then
    a.dw_k, a.pw_k, a.se_ratio = int("k"), int("p", 1), num("se", 0)
    a.pw_act, a.noskip = bt == "dsa", bt == "dsa" or skip == false
  elseif bt == "er" then
    a.exp_k, a.pw_k, a.exp_ratio = int("k"), int("p", 1), num("e")
    a.force_in_chs, a.se_ratio, a.noskip = int("fc", 0), num("se", 0), skip == false
  elseif bt == "cn" then
    a.k, a.skip = int("k"), skip == true
  elseif bt == "uir" then
    a.start_k, a.mid_k, a.end_k = int("a", 0), int("k"), int("p", 0)
    a.exp_ratio, a.se_ratio, a.noskip = num("e"), num("se", 0), skip == false
  else
    util.fail("%s: timm's '%s' blocks (attention) are not supported yet", arch, bt)
  end
  return a, int("r")
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- timm's _scale_stage_depth: the stage's repeats times depth_multiplier
-- ('ceil' or 'round'), spread over its block definitions from the last.
local function scale_stage_depth(args, repeats, multiplier, trunc)
  local num = 0
  for _, r in ipairs(repeats) do num = num + r end
  local scaled
  if trunc == "round" then
    scaled = math.max(1, builder.pyround(num * multiplier))
  else
    scaled = math.tointeger(math.ceil(num * multiplier))
  end
  local reps = {}
  for i = #repeats, 1, -1 do
    local r = repeats[i]
    local rs = math.max(1, builder.pyround(r / num * scaled))
    reps[i] = rs
    num, scaled = num - r, scaled - rs
  end
  local out = {}
  for i, a in ipairs(args) do
    for _ = 1, reps[i] do out[#out + 1] = copy(a) end
  end
  return out
end

-- timm's decode_arch_def: stages of block strings -> stages of block arguments.
-- o: depth_multiplier, depth_trunc ("ceil"), fix_first_last, arch (for messages)
function builder.decode_arch(arch_def, o)
  local stages = {}
  for i, strings in ipairs(arch_def) do
    local args, repeats = {}, {}
    for j, s in ipairs(strings) do
      args[j], repeats[j] = builder.decode_block(s, o.arch)
    end
    local mult = o.depth_multiplier or 1.0
    if o.fix_first_last and (i == 1 or i == #arch_def) then mult = 1.0 end
    stages[i] = scale_stage_depth(args, repeats, mult, o.depth_trunc or "ceil")
  end
  return stages
end

-- The blocks' common settings, from the model: act (default activation),
-- bn_eps, same_pad (tf_ models), round_chs (channels -> channels),
-- se = {gate = "sigmoid"|"hard_sigmoid", act = forced activation or nil,
-- round = rd channels rounding (chs -> int), from_exp = ratio taken on the
-- expanded channels}.
local Blocks = {}
Blocks.__index = Blocks

function builder.new(b, cfg)
  return setmetatable({ b = b, cfg = cfg }, Blocks)
end

function Blocks:conv(x, name, bn, cout, k, o)
  return self.b:conv(x, { name = name, cout = cout, k = k, stride = o.stride, groups = o.groups,
                          bn = bn, bn_eps = self.cfg.bn_eps, act = o.act, out_name = bn,
                          same_pad = self.cfg.same_pad or nil })
end

-- timm's SqueezeExcite: mean over H and W, conv_reduce with the block's
-- activation (or the forced one), conv_expand, gate, x * gate.
function Blocks:se(x, p, rd, act)
  local b, se = self.b, self.cfg.se
  local c = b:channels(x)
  local s = b:global_pool(x, p, "avg")
  s = b:linear(s, p .. ".conv_reduce", rd, { weight_ndim = 4, act = se.act or act })
  local hard = se.gate == "hard_sigmoid"
  s = b:linear(s, p .. ".conv_expand", c, { weight_ndim = 4, gate = hard and "hard_sigmoid" or nil })
  if not hard then s = b:act(s, se.gate, p .. ".gate") end
  return b:scale(x, s, p)
end

-- The SE's reduced channels for a block of se_ratio with chs channels (timm's
-- _make_block: the ratio is divided by exp_ratio unless taken on the
-- expanded channels).
function Blocks:se_channels(se_ratio, exp_ratio, chs)
  local se = self.cfg.se
  if not se.from_exp then se_ratio = se_ratio / (exp_ratio or 1.0) end
  return se.round(chs * se_ratio)
end

local function groups_of(group_size, chs)
  if not group_size or group_size == 0 then return 1 end
  return chs // group_size
end

local build = {}

-- DepthwiseSeparableConv: conv_dw bn1 act, se, conv_pw bn2 [act]
function build.ds(self, x, p, a, cin, act)
  local y = self:conv(x, p .. ".conv_dw", p .. ".bn1", cin, a.dw_k,
                      { stride = a.stride, groups = groups_of(a.group_size or 1, cin), act = act })
  if a.se_ratio > 0 then y = self:se(y, p .. ".se", self:se_channels(a.se_ratio, nil, cin), act) end
  y = self:conv(y, p .. ".conv_pw", p .. ".bn2", a.out_chs, a.pw_k,
                { act = a.pw_act and act or nil })
  return y, a.stride == 1 and cin == a.out_chs and not a.noskip
end
build.dsa = build.ds

-- InvertedResidual: conv_pw bn1 act, conv_dw bn2 act, se, conv_pwl bn3
function build.ir(self, x, p, a, cin, act)
  local mid = layers.make_divisible(cin * a.exp_ratio, 8)
  local y = self:conv(x, p .. ".conv_pw", p .. ".bn1", mid, a.exp_k, { act = act })
  y = self:conv(y, p .. ".conv_dw", p .. ".bn2", mid, a.dw_k,
                { stride = a.stride, groups = groups_of(a.group_size or 1, mid), act = act })
  if a.se_ratio > 0 then
    y = self:se(y, p .. ".se", self:se_channels(a.se_ratio, a.exp_ratio, mid), act)
  end
  y = self:conv(y, p .. ".conv_pwl", p .. ".bn3", a.out_chs, a.pw_k, {})
  return y, a.stride == 1 and cin == a.out_chs and not a.noskip
end

-- EdgeResidual: conv_exp bn1 act, se, conv_pwl bn2
function build.er(self, x, p, a, cin, act)
  local base = a.force_in_chs > 0 and self.cfg.round_chs(a.force_in_chs) or cin
  local mid = layers.make_divisible(base * a.exp_ratio, 8)
  local y = self:conv(x, p .. ".conv_exp", p .. ".bn1", mid, a.exp_k,
                      { stride = a.stride, groups = groups_of(a.group_size, mid), act = act })
  if a.se_ratio > 0 then
    y = self:se(y, p .. ".se", self:se_channels(a.se_ratio, a.exp_ratio, mid), act)
  end
  y = self:conv(y, p .. ".conv_pwl", p .. ".bn2", a.out_chs, a.pw_k, {})
  return y, a.stride == 1 and cin == a.out_chs and not a.noskip
end

-- ConvBnAct: conv bn1 act
function build.cn(self, x, p, a, cin, act)
  local y = self:conv(x, p .. ".conv", p .. ".bn1", a.out_chs, a.k,
                      { stride = a.stride, groups = groups_of(a.group_size, cin), act = act })
  return y, a.skip and a.stride == 1 and cin == a.out_chs
end

-- UniversalInvertedResidual (MobileNetV4): [dw_start], pw_exp act, [dw_mid
-- act], se, pw_proj, [dw_end]; each a ConvNormAct (.conv, .bn)
function build.uir(self, x, p, a, cin, act)
  local function cna(y, name, cout, k, stride, groups, with_act)
    return self:conv(y, p .. "." .. name .. ".conv", p .. "." .. name .. ".bn", cout, k,
                     { stride = stride, groups = groups, act = with_act and act or nil })
  end
  local y = x
  if a.start_k > 0 then
    y = cna(y, "dw_start", cin, a.start_k, a.mid_k == 0 and a.stride or 1,
            groups_of(a.group_size or 1, cin), false)
  end
  local mid = layers.make_divisible(cin * a.exp_ratio, 8)
  y = cna(y, "pw_exp", mid, 1, 1, 1, true)
  if a.mid_k > 0 then
    y = cna(y, "dw_mid", mid, a.mid_k, a.stride, groups_of(a.group_size or 1, mid), true)
  end
  if a.se_ratio > 0 then
    y = self:se(y, p .. ".se", self:se_channels(a.se_ratio, a.exp_ratio, mid), act)
  end
  y = cna(y, "pw_proj", a.out_chs, 1, 1, 1, false)
  if a.end_k > 0 then
    -- timm gives dw_end the block's dilation; the graph's rule gives the one
    -- after a converted stride: only a block with both differs, and none of
    -- the MobileNetV4 conv models has a dw_end
    local stride = (a.start_k == 0 and a.mid_k == 0) and a.stride or 1
    y = cna(y, "dw_end", a.out_chs, a.end_k, stride, groups_of(a.group_size or 1, a.out_chs),
            false)
  end
  return y, a.stride == 1 and cin == a.out_chs and not a.noskip
end

-- Builds the stages from the stem's output x of stem_chs channels, and
-- records feature_info as timm's builder does ('bottleneck' location: the
-- stem's bn1 when the first block is strided, then the end of every stage
-- the next stage downsamples, and the last). Returns the last tensor and its
-- channels.
function Blocks:stages(x, stem_chs, stages)
  local b = self.b
  local cin = stem_chs
  if stages[1][1].stride > 1 then b:feature("bn1", x) end
  for si, stage in ipairs(stages) do
    for bi, args in ipairs(stage) do
      local a = copy(args)
      if bi > 1 then a.stride = 1 end
      a.out_chs = self.cfg.round_chs(a.out_chs)
      local p = string.format("blocks.%d.%d", si - 1, bi - 1)
      local y, skip = build[a.block_type](self, x, p, a, cin, a.act or self.cfg.act)
      if skip then y = b:add(y, x, p) end
      x, cin = y, a.out_chs
    end
    local next_stage = stages[si + 1]
    if not next_stage or next_stage[1].stride > 1 then
      local name = string.format("blocks.%d", si - 1)
      b.m.tensors[x].name = name
      b:feature(name, x)
    end
  end
  return x, cin
end

return builder
