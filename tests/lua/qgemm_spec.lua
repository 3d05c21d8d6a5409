-- luacheck: std +busted
-- timmc's int8 GEMM (runtime/timmc_qgemm.c): which int8 convolutions the
-- cost model in backends/xnnpack_int8.lua gives it (the choices
-- bench/int8/qgemm_layers.sh checks), and the code emit.conv prints.
local helper = require("helper")
local int8 = require("backends.xnnpack_int8")

local function int8_spec(arch, extra)
  local raw = helper.spec(arch, extra)
  raw.precision = "int8"
  return raw
end

-- The int8 convolutions of a model: those the cost model chooses, and the
-- others.
local function choices(arch, extra)
  local m = helper.compile_until(int8_spec(arch, extra), "fit_arena")
  local yes, no = {}, {}
  for _, node in ipairs(m.nodes) do
    if node.kind == "conv" and m.tensors[node.output].dtype == "qs8" then
      local list = int8.qgemm_chosen(node, m.tensors[node.output].shape) and yes or no
      list[#list + 1] = node.name
    end
  end
  return yes, no
end

describe("qgemm", function()
  it("takes every int8 convolution of resnet50", function()
    local yes, no = choices("resnet50")
    assert.same({}, no)
    assert.equal(52, #yes)
  end)

  it("takes mobilenetv3's pointwise convs, leaves its depthwise ones to XNNPACK", function()
    local yes, no = choices("mobilenetv3_large_100")
    for _, name in ipairs(no) do assert.is_truthy(name:match("conv_dw$"), name) end
    for _, name in ipairs(yes) do assert.is_falsy(name:match("conv_dw$"), name) end
    assert.is_truthy(#yes > 25)
    -- XNNPACK's wins where an output has very few products: 8 -> 8 channels
    assert.is_falsy(int8.qgemm_chosen({ groups = 1, cin = 8, cout = 8, k = 1, pad = { 0, 0, 0, 0 } },
                                      { 1, 112, 112 }))
  end)

  it("emits the kernel behind TIMMC_QGEMM_BUILT, XNNPACK's operator in the else", function()
    local c = helper.compile_until(int8_spec("resnet18", { input_size = { 3, 64, 64 } }),
                                   "emit_c").c_source
    assert.is_truthy(c:find('#include "timmc_qgemm.h"', 1, true))
    local hook = c:find("#if TIMMC_QGEMM_BUILT\n  if (timmc_qgemm_use(/*chosen=*/1)) {", 1, true)
    assert.is_truthy(hook)
    local xnn = c:find("xnn_create_convolution2d_nhwc_qc8", hook, true)
    assert.is_truthy(c:find("  } else\n#endif\n  {\n", hook, true) < xnn)
    -- the float32 model has no hook
    local f32 = helper.compile_until(helper.spec("resnet18", { input_size = { 3, 64, 64 } }),
                                     "emit_c").c_source
    assert.is_falsy(f32:find("timmc_qgemm", 1, true))
  end)
end)
