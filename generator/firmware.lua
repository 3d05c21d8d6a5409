-- firmware.lua: what the portable backend adds to the commands
--   timmc weights SPEC.json CHECKPOINT.safetensors -o DIR
--       DIR/NAME_weights.c: the packed weights as const arrays (docs/portable.md)
--   timmc build SPEC.json -o DIR --target cortex-m [--weights CHECKPOINT]
--       DIR/NAME.elf: model, weights and runtime/cortexm/'s runner for an Arm
--       Cortex-M7 (QEMU's mps2-an500), with its size report
local util = require("util")
local spec_mod = require("spec")

local firmware = {}

-- The compiler and the flags of the Cortex-M7 image: its FPU (double
-- precision, hard-float calls), newlib with semihosting (rdimon), and the
-- vector table at 0 where mps2-an500 reads it.
firmware.CC = "arm-none-eabi-gcc"
firmware.SIZE = "arm-none-eabi-size"
firmware.ARCH = { "-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard" }
firmware.LINK = { "--specs=rdimon.specs", "-Wl,--section-start=.vectors=0",
                  "-Wl,--undefined=timmc_cm_vectors", "-Wl,--gc-sections" }

local function run_quiet(cmd)
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  return ok
end

local function need_portable(spec, spec_path, what)
  if spec.backend ~= "portable" then
    util.fail("%s: %s needs \"backend\": \"portable\" in the spec (it has %q)", spec_path, what,
              spec.backend)
  end
end

local function temp_dir(near)
  local p = io.popen("mktemp -d " .. util.shell_quote(near .. ".tmp.XXXXXX") .. " 2>/dev/null")
  local dir = p and p:read("l")
  if p then p:close() end
  if not dir or dir == "" then util.fail("%s: cannot create a temporary directory", near) end
  return dir
end

-- DIR/NAME_weights.c from CHECKPOINT: the host init's own packed floats, so
-- they are bit for bit what NAME_init_file would compute (a host build of
-- the model with runtime/timmc_portable_dump.c prints them).
function firmware.weights(spec_path, checkpoint, outdir, what)
  local driver = require("driver")
  local spec = spec_mod.load(spec_path)
  need_portable(spec, spec_path, what or "timmc weights")
  if not util.is_regular(checkpoint) then
    util.fail("%s: no such checkpoint (a timm .safetensors file)", checkpoint)
  end
  os.execute("mkdir -p -- " .. util.shell_quote(outdir) .. " 2>/dev/null")
  local out = outdir .. "/" .. spec.name .. "_weights.c"
  local tmp = temp_dir(out)
  local ok, err = pcall(function()
    driver.build(spec_path, tmp, {
      main = driver.root .. "/runtime/timmc_portable_dump.c",
      defines = { "-DTIMMC_PACKED=" .. spec.name .. "_packed_weights",
                  "-DTIMMC_PACKED_WORDS=" .. spec.name .. "_packed_words" },
    })
    local log = tmp .. "/dump.err"
    local cmd = util.join({ tmp .. "/" .. spec.name, checkpoint, out, spec.spec_path, checkpoint },
                          " ", util.shell_quote) .. " 2>" .. util.shell_quote(log)
    local done, _, code = os.execute(cmd)
    if not done then
      local msg = (util.read_file(log) or ""):gsub("%s+$", "")
      if code == 2 then util.fail("%s", msg) end
      util.fail("%s: packing the weights failed (status %s): %s", checkpoint, tostring(code), msg)
    end
  end)
  os.execute("rm -rf -- " .. util.shell_quote(tmp))
  if not ok then error(err, 0) end
  return out
end

-- Section sizes of an ELF (arm-none-eabi-size -A): flash = text + rodata
-- (with the vector table, exception index and init arrays), RAM = data + bss.
function firmware.size_report(elf, model)
  local p = io.popen(util.join({ firmware.SIZE, "-A", elf }, " ", util.shell_quote))
  local text = p and p:read("a") or ""
  if p then p:close() end
  local s = { text = 0, rodata = 0, data = 0, bss = 0 }
  for name, bytes in text:gmatch("\n(%.[%w_.]+)%s+(%d+)%s+%d+") do
    local n = tonumber(bytes)
    if name == ".text" or name == ".vectors" or name == ".init" or name == ".fini" then
      s.text = s.text + n
    elseif name == ".rodata" or name == ".ARM.exidx" or name == ".ARM.extab" or
           name:match("_array$") or name == ".eh_frame" then
      s.rodata = s.rodata + n
    elseif name == ".data" then
      s.data = s.data + n
    elseif name == ".bss" then
      s.bss = s.bss + n
    end
  end
  return string.format("%s: flash %d bytes (text %d, rodata %d), RAM %d bytes (data %d, " ..
                       "bss %d, of which the arena %d)", elf, s.text + s.rodata, s.text, s.rodata,
                       s.data + s.bss, s.data, s.bss, model.plan.arena_bytes), s
end

-- DIR/NAME.elf for a Cortex-M7: the model (TIMMC_NO_SAFETENSORS: no cJSON,
-- no file), DIR/NAME_weights.c (made from opts.weights when given), timmc_err.c
-- and runtime/cortexm/. $CFLAGS and $LDFLAGS are read; cmake/cflags.txt last.
function firmware.build(spec_path, outdir, opts)
  local driver = require("driver")
  local spec = spec_mod.load(spec_path)
  need_portable(spec, spec_path, "--target cortex-m")
  if not run_quiet("command -v " .. firmware.CC) then
    util.fail("--target cortex-m: %s not found; prepare it with sh tools/cross.sh cortex-m",
              firmware.CC)
  end
  local weights = outdir .. "/" .. spec.name .. "_weights.c"
  if opts.weights then
    firmware.weights(spec_path, opts.weights, outdir, "--weights")
  elseif not util.is_regular(weights) then
    util.fail("%s: not found: give --weights CHECKPOINT.safetensors, or make it with " ..
              "timmc weights", weights)
  end
  local model, base = driver.generate(spec_path, outdir)
  local rt = driver.root .. "/runtime"
  local words = { firmware.CC }
  local function add(list) for _, w in ipairs(list) do words[#words + 1] = w end end
  add(firmware.ARCH)
  for w in (os.getenv("CFLAGS") or ""):gmatch("%S+") do words[#words + 1] = w end
  add(driver.cflags())
  add({ "-ffunction-sections", "-fdata-sections", "-DTIMMC_NO_SAFETENSORS",
        "-D_Thread_local=", -- one thread: timmc_err.c's message needs no TLS
        -- Debian's arm-none-eabi-gcc takes its own stdint.h, not newlib's, which
        -- leaves newlib's <inttypes.h> without PRId64; int64_t is long long both ways
        "-D__int64_t_defined=1",
        "-I" .. outdir, "-I" .. rt, "-I" .. rt .. "/cortexm",
        "-DTIMMC_MODEL=" .. spec.name .. "_model", "-DTIMMC_INIT_CONST=" .. spec.name .. "_init_const",
        base .. ".c", weights, rt .. "/timmc_err.c", rt .. "/cortexm/timmc_cm.c",
        rt .. "/cortexm/timmc_cm_runner.c" })
  local elf = base .. ".elf"
  local tmp = util.temp_path(elf)
  add({ "-o", tmp })
  add(firmware.LINK)
  for w in (os.getenv("LDFLAGS") or ""):gmatch("%S+") do words[#words + 1] = w end
  add({ "-lm" })
  driver.compile_to(words, tmp, elf, spec_path)
  print((firmware.size_report(elf, model)))
  return model
end

return firmware
