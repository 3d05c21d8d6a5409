-- driver.lua: runs the passes in order and implements the commands
--   timmc generate SPEC.json -o DIR   writes DIR/NAME.h and DIR/NAME.c
--   timmc build SPEC.json -o DIR      generate, then compile the runner DIR/NAME
local util = require("util")
local spec_mod = require("spec")

local driver = {}

driver.root = nil -- the project root, set by generator/timmc

-- the passes between build and emit_c, in order
driver.passes = { "apply_output_stride", "infer_shapes", "select_features", "winograd",
                  "place_concats", "plan_memory" }

-- spec path -> model IR with C text attached
function driver.compile(spec_path)
  local spec, arch = spec_mod.load(spec_path)
  local model = require("passes.build")(spec, arch)
  for _, p in ipairs(driver.passes) do
    local pass = require("passes." .. p)
    model = (type(pass) == "table" and pass.run or pass)(model)
  end
  local templates = {
    h = util.read_file(driver.root .. "/templates/model.h.in"),
    c = util.read_file(driver.root .. "/templates/model.c.in"),
  }
  return require("passes.emit_c").run(model, templates)
end

local function ensure_dir(dir)
  local ok = os.execute("mkdir -p " .. util.shell_quote(dir))
  if not ok then util.fail("%s: cannot create the output directory", dir) end
end

function driver.generate(spec_path, outdir)
  local model = driver.compile(spec_path)
  ensure_dir(outdir)
  local base = outdir .. "/" .. model.spec.name
  util.write_file_atomic(base .. ".h", model.c_header)
  util.write_file_atomic(base .. ".c", model.c_source)
  return model, base
end

function driver.build(spec_path, outdir)
  local model, base = driver.generate(spec_path, outdir)
  local rt = driver.root .. "/runtime"
  local srcs = { base .. ".c" }
  for _, f in ipairs({ "timmc_err", "timmc_file", "timmc_st", "timmc_npy", "timmc_rt",
                       "timmc_wino", "timmc_rand", "timmc_runner" }) do
    srcs[#srcs + 1] = rt .. "/" .. f .. ".c"
  end
  local cc = os.getenv("CC") or "cc"
  local tmp = util.temp_path(base)
  local spec_dir = util.dirname(spec_path)
  local cmd = string.format("%s -std=c11 -O2 -I%s -I%s -Wa,-I,%s -DTIMMC_MODEL=%s_model %s " ..
                            "-o %s -lXNNPACK -lpthreadpool -lcjson -lm",
                            cc, util.shell_quote(outdir), util.shell_quote(rt),
                            util.shell_quote(spec_dir), model.spec.name,
                            util.join(srcs, " ", util.shell_quote), util.shell_quote(tmp))
  if not os.execute(cmd) then
    os.remove(tmp)
    util.fail("%s: the C compiler failed (command: %s)", spec_path, cmd)
  end
  local ok, err = os.rename(tmp, base)
  if not ok then
    os.remove(tmp)
    util.fail("%s: %s", base, err)
  end
  return model
end

local USAGE = [[usage:
  timmc generate SPEC.json -o DIR   emit DIR/NAME.h and DIR/NAME.c
  timmc build SPEC.json -o DIR      generate and compile the runner DIR/NAME
  timmc list                        the architectures timmc knows
  timmc help                        this text]]

local function parse(args)
  local cmd, spec_path, outdir = args[1], nil, nil
  local i = 2
  while i <= #args do
    local a = args[i]
    if a == "-o" then
      outdir = args[i + 1] or util.fail("-o needs a directory")
      i = i + 2
    elseif a:sub(1, 1) == "-" then
      util.fail("unknown option '%s' (see timmc help)", a)
    elseif spec_path then
      util.fail("more than one spec given ('%s' and '%s')", spec_path, a)
    else
      spec_path = a
      i = i + 1
    end
  end
  return cmd, spec_path, outdir
end

function driver.main(args)
  local ok, err = xpcall(function()
    local cmd, spec_path, outdir = parse(args)
    if cmd == "help" or cmd == "--help" or cmd == "-h" then
      print(USAGE)
      return
    end
    if cmd == "list" then
      print(table.concat(require("init").names(), "\n"))
      return
    end
    if cmd ~= "generate" and cmd ~= "build" then
      util.fail("unknown command '%s': expected generate, build or list (see timmc help)",
                tostring(cmd))
    end
    if not spec_path then util.fail("%s needs a spec file: timmc %s SPEC.json -o DIR", cmd, cmd) end
    if not outdir then util.fail("%s needs -o DIR: timmc %s SPEC.json -o DIR", cmd, cmd) end
    driver[cmd](spec_path, outdir)
  end, function(e)
    return util.is_user_error(e) and e or debug.traceback(tostring(e), 2)
  end)
  if ok then return 0 end
  if util.is_user_error(err) then
    io.stderr:write("timmc: ", err.msg, "\n")
    return 2
  end
  io.stderr:write("timmc: internal error: ", tostring(err), "\n")
  return 1
end

return driver
