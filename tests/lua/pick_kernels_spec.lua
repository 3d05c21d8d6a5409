-- luacheck: std +busted
-- pick_kernels: which convolutions timmc's GEMM may take, and which its cost
-- model chooses on the seed models (the choices bench/gemm_layers.sh checks).
local helper = require("helper")
local pick = require("passes.pick_kernels")

-- The names of the conv nodes of a model the cost model chooses.
local function chosen(arch, extra)
  local m = helper.compile_until(helper.spec(arch, extra), "fit_arena")
  local names = {}
  for _, node in ipairs(m.nodes) do
    if pick.gemm_chosen(node, m.tensors[node.output].shape) then names[#names + 1] = node.name end
  end
  return names
end

describe("pick_kernels", function()
  it("applies to 1x1 and 3x3 ungrouped convolutions only", function()
    local base = { kind = "conv", k = 1, groups = 1, cin = 64, cout = 64 }
    local function with(t)
      local n = {}
      for k, v in pairs(base) do n[k] = v end
      for k, v in pairs(t) do n[k] = v end
      return n
    end
    assert.is_true(pick.gemm_applies(base))
    assert.is_true(pick.gemm_applies(with({ k = 3 })))
    assert.is_false(pick.gemm_applies(with({ k = 7 })))
    assert.is_false(pick.gemm_applies(with({ groups = 64 })))
    assert.is_false(pick.gemm_applies(with({ kind = "wino_conv", k = 3 })))
    assert.is_false(pick.gemm_applies(with({ cin = pick.MAX_IN + 1 })))
  end)

  it("chooses the layers whose weights outgrow the caches at few pixels", function()
    -- resnet50 at 224: every conv of layer4 (7x7, under 64 pixels: XNNPACK's
    -- tiles measured 1.11-1.24x slower), none of layer3 (14x14, 1-2 MiB)
    assert.same({ "layer4.0.conv2", "layer4.0.conv3", "layer4.0.downsample.0", "layer4.1.conv1",
                  "layer4.1.conv2", "layer4.1.conv3", "layer4.2.conv1", "layer4.2.conv2",
                  "layer4.2.conv3" }, chosen("resnet50"))
    -- xception41 at 299: the two widest pointwise convs at 10x10
    assert.same({ "blocks.12.stack.conv2.conv_pw", "blocks.12.stack.conv3.conv_pw" },
                chosen("xception41"))
    -- densenet121: no conv has weights past the caches
    assert.same({}, chosen("densenet121"))
  end)

  it("takes grouped convs of 24 channels a group with the 24-wide tile", function()
    local node = { kind = "conv", k = 3, groups = 24, cin = 576, cout = 576 }
    assert.is_true(pick.gemm24_applies(node))
    assert.is_false(pick.gemm_applies(node))
    assert.is_true(pick.gemm24_chosen(node, { 1, 14, 14, 576 }))
    node.cout = 32 * 24 -- 32 a group
    assert.is_false(pick.gemm24_applies(node))
    assert.is_false(pick.gemm24_applies({ kind = "conv", k = 3, groups = 64, cin = 64, cout = 64 }))
  end)

  it("takes Winograd's products of up to 48 tiles a block", function()
    local node = { kind = "wino_conv", k = 3, groups = 1, cin = 256, cout = 256, block = 16 }
    assert.is_true(pick.wino_products_chosen(node)) -- resnet50's 14x14: 16 tiles
    node.block = 49 -- 28x28
    assert.is_true(pick.wino_products_applies(node))
    assert.is_false(pick.wino_products_chosen(node))
    assert.is_false(pick.wino_products_applies({ kind = "conv", k = 3, groups = 1, cin = 8,
                                                 cout = 8 }))
  end)

  it("predicts XNNPACK's time from the FMAs alone while the weights fit", function()
    local node = { kind = "conv", k = 1, groups = 1, cin = 728, cout = 728 }
    local xnn, ours = pick.gemm_cost(node, { 1, 19, 19, 728 })
    assert.is_true(ours > xnn) -- same FMAs, timmc's kernel at 0.93 of the rate
    assert.is_false(pick.gemm_chosen(node, { 1, 19, 19, 728 }))
  end)

  it("takes depthwise 3x3 and 5x5 convolutions, stride 1 or 2, undilated", function()
    local node = { kind = "conv", k = 3, groups = 64, cin = 64, cout = 64, stride = 1,
                   dilation = 1 }
    assert.is_true(pick.dw_applies(node))
    node.k = 5
    assert.is_true(pick.dw_applies(node))
    node.k, node.stride = 3, 2
    assert.is_true(pick.dw_applies(node))
    node.dilation = 2
    assert.is_false(pick.dw_applies(node))
    node.dilation, node.k = 1, 7
    assert.is_false(pick.dw_applies(node))
    node.k, node.cout = 3, 128 -- a channel multiplier of 2
    assert.is_false(pick.dw_applies(node))
    assert.is_false(pick.dw_applies({ kind = "conv", k = 3, groups = 2, cin = 64, cout = 64,
                                      stride = 1, dilation = 1 }))
  end)

  it("leaves large images and 3x3 at stride 2 to XNNPACK", function()
    local function dw(h, c)
      return pick.dw_chosen({ kind = "conv", k = 3, groups = c, cin = c, cout = c, stride = 1,
                              dilation = 1 }, { shape = { 1, h, h, c } })
    end
    assert.is_true(dw(19, 728)) -- xception41's middle flow
    assert.is_true(dw(38, 728)) -- 1600 pixels or fewer, 4 MiB
    assert.is_true(dw(112, 32)) -- mobilenets' first, 1.6 MiB
    assert.is_true(dw(10, 1024))
    assert.is_false(dw(75, 128)) -- 2.9 MiB: 0.84-0.92x measured
    assert.is_false(dw(150, 64))
    -- 3x3 at stride 2 (0.74-0.98x), not 5x5
    local node = { kind = "conv", k = 3, groups = 240, cin = 240, cout = 240, stride = 2,
                   dilation = 1 }
    assert.is_false(pick.dw_chosen(node, { shape = { 1, 28, 28, 240 } }))
    node.k = 5
    assert.is_true(pick.dw_chosen(node, { shape = { 1, 28, 28, 240 } }))
  end)
end)
