-- driver.lua: runs the passes in order and implements the commands
--   timmc generate SPEC.json -o DIR   writes DIR/NAME.h and DIR/NAME.c
--   timmc build SPEC.json -o DIR      generate, then compile the runner DIR/NAME
--                                     (--target aarch64|armhf|cortex-m, --sysroot DIR)
--   timmc weights SPEC.json CKPT -o DIR  DIR/NAME_weights.c (portable backend)
local ir = require("ir")
local util = require("util")
local spec_mod = require("spec")

local driver = {}

driver.root = nil -- the project root, set by generator/timmc

-- The pipeline: build, the backend-neutral passes, the backend's own
-- (backend.passes, e.g. winograd), then placement and emission. Each pass is
-- a verb that takes the model IR and returns it.
driver.FRONT = { "build", "apply_output_stride", "infer_shapes", "select_features", "quantize" }
driver.BACK = { "place_concats", "plan_memory", "fit_arena", "emit_c" }

-- The pass names for a backend, in order.
function driver.passes(backend)
  local list = { table.unpack(driver.FRONT) }
  for _, p in ipairs(backend.passes) do list[#list + 1] = p end
  for _, p in ipairs(driver.BACK) do list[#list + 1] = p end
  return list
end

function driver.backend(spec)
  return require("backends." .. spec.backend)
end

local function run_pass(name, model)
  if name == "emit_c" then
    local templates = {
      h = util.read_file(driver.root .. "/templates/model.h.in"),
      c = util.read_file(driver.root .. "/" .. model.backend.template),
    }
    return require("passes.emit_c").run(model, templates)
  end
  local pass = require("passes." .. name)
  return (type(pass) == "table" and pass.run or pass)(model)
end

-- A validated spec (spec.check) -> the model IR after the pass stop_after
-- (default: all of them, with C text attached). check: ir.check after every
-- pass (the tests do; the CLI under TIMMC_CHECK_IR=1).
function driver.pipeline(spec, arch, opts)
  opts = opts or {}
  local backend = driver.backend(spec)
  local names = driver.passes(backend)
  if opts.stop_after then
    local known = false
    for _, p in ipairs(names) do known = known or p == opts.stop_after end
    if not known then
      error("unknown pass " .. tostring(opts.stop_after) .. " (passes: " ..
            table.concat(names, ", ") .. ")")
    end
  end
  local model = ir.new_model(spec, arch)
  model.backend = backend
  for _, name in ipairs(names) do
    model = run_pass(name, model)
    if opts.check and name ~= "emit_c" then ir.check(model) end
    if name == opts.stop_after then break end
  end
  return model
end

local function ensure_dir(dir)
  local ok = os.execute("mkdir -p -- " .. util.shell_quote(dir) .. " 2>/dev/null")
  if not ok then util.fail("%s: cannot create the output directory", dir) end
end

-- The float32 reference of an int8 spec: the same model, named NAME_f32,
-- whose C also lists the tensors calibration watches (docs/int8.md).
function driver.reference_spec(spec)
  local ref = {}
  for k, v in pairs(spec) do ref[k] = v end
  ref.name, ref.precision, ref.reference, ref.embed_weights = spec.name .. "_f32", "f32", true, nil
  return ref
end

-- Writes DIR/NAME.h and DIR/NAME.c, and for an int8 spec its float32
-- reference DIR/NAME_f32.h and .c (what the runner calibrates with).
function driver.generate(spec_path, outdir)
  local spec, arch = spec_mod.load(spec_path)
  local opts = { check = os.getenv("TIMMC_CHECK_IR") == "1" }
  local model = driver.pipeline(spec, arch, opts)
  local ref = spec.precision == "int8" and driver.pipeline(driver.reference_spec(spec), arch, opts)
  ensure_dir(outdir)
  local base = outdir .. "/" .. model.spec.name
  for _, m in ipairs({ model, ref or nil }) do
    util.write_file_atomic(outdir .. "/" .. m.spec.name .. ".h", m.c_header)
    util.write_file_atomic(outdir .. "/" .. m.spec.name .. ".c", m.c_source)
  end
  model.reference = ref or nil
  return model, base
end

-- Cross targets of `timmc build --target`: the GNU triple (its gcc is the
-- default compiler) and the sysroot tools/cross.sh prepares.
driver.TARGETS = {
  aarch64 = { triple = "aarch64-linux-gnu" },
  armhf = { triple = "arm-linux-gnueabihf" },
}

-- The flags of cmake/cflags.txt (one a line, # comments): the C flags that
-- decide the numbers, the same on this build path and CMake's.
function driver.cflags()
  local flags = {}
  for line in (util.read_file(driver.root .. "/cmake/cflags.txt") .. "\n"):gmatch("([^\n]*)\n") do
    local flag = line:match("^%s*(%S+)%s*$")
    if flag and flag:sub(1, 1) ~= "#" then flags[#flags + 1] = flag end
  end
  return flags
end

-- An environment variable as shell words (CC="ccache gcc", CFLAGS="-g -mcpu=x"
-- as make splits them), each quoted for the shell: nothing in it is run.
local function env_words(name, default)
  local words = {}
  for w in (os.getenv(name) or default or ""):gmatch("%S+") do words[#words + 1] = w end
  return words
end

-- The -D that names an embed_weights file by its absolute path, so that the
-- assembler's .incbin cannot take a file of the same name from elsewhere
-- (it looks in the current directory first).
function driver.embed_define(spec, spec_path)
  local rel = spec.embed_weights
  local file = rel:sub(1, 1) == "/" and rel or util.dirname(spec_path) .. "/" .. rel
  local p = io.popen("realpath -e -- " .. util.shell_quote(file) .. " 2>/dev/null")
  local abs = p and p:read("l")
  if p then p:close() end
  if not abs or abs == "" then util.fail("%s: key 'embed_weights': cannot resolve %s", spec_path, rel) end
  if abs:find('[%c"\\]') then
    util.fail("%s: key 'embed_weights': its absolute path %q has a quote, backslash or " ..
              "control character, which the assembler cannot take", spec_path, abs)
  end
  return string.format('-D%s_EMBED_FILE="%s"', spec.name:upper(), abs)
end

-- opts: target (a key of driver.TARGETS), sysroot (a tree with the target's
-- usr/include and usr/lib/TRIPLE: XNNPACK, pthreadpool, cJSON). $CC, $CFLAGS
-- and $LDFLAGS are read from the environment.
-- Runs the compiler command words (writing tmp), then renames tmp to dest:
-- a failed build leaves no file at dest.
function driver.compile_to(words, tmp, dest, spec_path)
  local cmd = util.join(words, " ", util.shell_quote)
  if not os.execute(cmd) then
    os.remove(tmp)
    util.fail("%s: the C compiler failed (command: %s)", spec_path, cmd)
  end
  local ok, err = os.rename(tmp, dest)
  if not ok then
    os.remove(tmp)
    util.fail("%s: %s", dest, err)
  end
end

-- opts.weights (portable backend): a checkpoint packed into DIR/NAME_weights.c
-- and linked in (the runner then needs no --weights). opts.main, opts.defines:
-- a program to build instead of the runner, with these -D (timmc weights
-- builds its packer so).
function driver.build(spec_path, outdir, opts)
  opts = opts or {}
  if opts.target == "cortex-m" then return require("firmware").build(spec_path, outdir, opts) end
  local target = opts.target and driver.TARGETS[opts.target]
  if opts.target and not target then
    util.fail("--target '%s': expected aarch64, armhf or cortex-m", opts.target)
  end
  local sysroot = opts.sysroot
  if target and not sysroot then
    sysroot = os.getenv("TIMMC_SYSROOT") or ("/opt/timmc-sysroot/" .. opts.target)
  end
  local triple = target and target.triple
  local cc = env_words("CC", target and (triple .. "-gcc") or "cc")
  if #cc == 0 then cc = { "cc" } end
  if sysroot then
    if not triple then
      -- a sysroot for the host: its multiarch folder, as the compiler names it
      local p = io.popen(util.join(cc, " ", util.shell_quote) .. " -dumpmachine 2>/dev/null")
      triple = p and p:read("l") or ""
      if p then p:close() end
    end
    local f = io.open(sysroot .. "/usr/include/xnnpack.h")
    if not f then
      util.fail("%s: not a sysroot with XNNPACK (no usr/include/xnnpack.h)%s", sysroot,
                opts.target and "; prepare it with sh tools/cross.sh " .. opts.target or "")
    end
    f:close()
  end
  local packed = opts.weights and require("firmware").weights(spec_path, opts.weights, outdir,
                                                                   "--weights")
  local model, base = driver.generate(spec_path, outdir)
  local rt = driver.root .. "/runtime"
  local srcs = { base .. ".c", packed }
  if model.reference then srcs[2] = base .. "_f32.c" end
  for _, f in ipairs(model.backend.sources) do srcs[#srcs + 1] = rt .. "/" .. f .. ".c" end
  srcs[#srcs + 1] = opts.main or (rt .. "/timmc_runner.c")
  local words = { table.unpack(cc) }
  local function add(list) for _, w in ipairs(list) do words[#words + 1] = w end end
  add(env_words("CFLAGS"))
  add(driver.cflags())
  if sysroot then
    -- its multiarch folder too (libjpeg's jconfig.h), which TRIPLE-gcc does not search
    add({ "-I" .. sysroot .. "/usr/include", "-isystem", sysroot .. "/usr/include/" .. triple })
  end
  add({ "-I" .. outdir, "-I" .. rt, "-DTIMMC_MODEL=" .. model.spec.name .. "_model" })
  if model.reference then add({ "-DTIMMC_REFERENCE=" .. model.reference.spec.name .. "_model" }) end
  if model.spec.embed_weights then add({ driver.embed_define(model.spec, spec_path) }) end
  add(opts.defines or {})
  add(srcs)
  local tmp = util.temp_path(base)
  add({ "-o", tmp })
  add(env_words("LDFLAGS"))
  if sysroot then
    local lib = sysroot .. "/usr/lib/" .. triple
    add({ "-L" .. lib, "-Wl,-rpath-link," .. lib })
  end
  for w in model.backend.libs:gmatch("%S+") do words[#words + 1] = w end
  -- JPEG through libjpeg (Pillow's decoder) where the target has it: the
  -- pixels Pillow gives; stb_image otherwise (runtime/timmc_image.c)
  if util.is_regular((sysroot or "") .. "/usr/include/jpeglib.h") then
    table.insert(words, 2, "-DTIMMC_IMAGE_LIBJPEG")
    words[#words + 1] = "-ljpeg"
  end
  driver.compile_to(words, tmp, base, spec_path)
  return model
end

local USAGE = [[usage:
  timmc generate SPEC.json -o DIR   emit DIR/NAME.h and DIR/NAME.c
  timmc build SPEC.json -o DIR [--target aarch64|armhf] [--sysroot DIR]
                                    generate and compile the runner DIR/NAME
                                    ($CC, $CFLAGS, $LDFLAGS; cmake/cflags.txt last)
  timmc build SPEC.json -o DIR [--weights CKPT.safetensors]
                                    portable backend: the checkpoint packed into
                                    DIR/NAME_weights.c and linked in
  timmc build SPEC.json -o DIR --target cortex-m [--weights CKPT.safetensors]
                                    a firmware image DIR/NAME.elf (portable backend)
  timmc weights SPEC.json CKPT.safetensors -o DIR
                                    DIR/NAME_weights.c: the packed weights as const
                                    arrays (portable backend)
  timmc list                        the architectures timmc knows
  timmc help                        this text]]

local function parse(args)
  local cmd, spec_path, outdir = args[1], nil, nil
  local opts = {}
  local i = 2
  while i <= #args do
    local a = args[i]
    if a == "-o" then
      outdir = args[i + 1] or util.fail("-o needs a directory")
      i = i + 2
    elseif a == "--target" or a == "--sysroot" or a == "--weights" then
      if cmd ~= "build" then util.fail("%s is an option of timmc build", a) end
      local v = args[i + 1] or util.fail("%s needs a value%s", a,
                                         a == "--target" and " (aarch64, armhf or cortex-m)" or "")
      opts[a:sub(3)] = v
      i = i + 2
    elseif a:sub(1, 1) == "-" then
      util.fail("unknown option '%s' (see timmc help)", a)
    elseif spec_path and cmd == "weights" and not opts.checkpoint then
      opts.checkpoint = a
      i = i + 1
    elseif spec_path then
      util.fail("more than one spec given ('%s' and '%s')", spec_path, a)
    else
      spec_path = a
      i = i + 1
    end
  end
  return cmd, spec_path, outdir, opts
end

function driver.main(args)
  local ok, err = xpcall(function()
    local cmd, spec_path, outdir, opts = parse(args)
    if cmd == "help" or cmd == "--help" or cmd == "-h" then
      print(USAGE)
      return
    end
    if cmd == "list" then
      print(table.concat(require("init").names(), "\n"))
      return
    end
    if cmd ~= "generate" and cmd ~= "build" and cmd ~= "weights" then
      util.fail("unknown command '%s': expected generate, build, weights or list (see timmc help)",
                tostring(cmd))
    end
    if cmd == "weights" then
      if not (spec_path and opts.checkpoint and outdir) then
        util.fail("weights needs a spec, a checkpoint and -o DIR: " ..
                  "timmc weights SPEC.json CHECKPOINT.safetensors -o DIR")
      end
      require("firmware").weights(spec_path, opts.checkpoint, outdir)
      return
    end
    if not spec_path then util.fail("%s needs a spec file: timmc %s SPEC.json -o DIR", cmd, cmd) end
    if not outdir then util.fail("%s needs -o DIR: timmc %s SPEC.json -o DIR", cmd, cmd) end
    driver[cmd](spec_path, outdir, opts)
  end, function(e)
    return (util.is_user_error(e) or util.is_ir_error(e)) and e or debug.traceback(tostring(e), 2)
  end)
  if ok then return 0 end
  if util.is_user_error(err) then
    io.stderr:write("timmc: ", err.msg, "\n")
    return 2
  end
  if util.is_ir_error(err) then -- a model file or pass broke the IR's rules
    io.stderr:write("timmc: internal error: invalid IR: ", err.msg, "\n")
    return 1
  end
  io.stderr:write("timmc: internal error: ", tostring(err), "\n")
  return 1
end

return driver
