-- luacheck: std +busted
-- What an adversarial try found in the generator: names that collide with C,
-- POSIX or the libraries, untrusted text written into C, files that are not
-- regular, lenient JSON, arenas no static array can hold, options that look
-- like flags. Each case failed before its fix.
local helper = require("helper")
local spec = require("spec")
local util = require("util")
local driver = require("driver")

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. util.shell_quote(d)))
  return d
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local TIMMC = helper.root .. "/generator/timmc"

-- timmc's message and exit status for a command
local function timmc(args)
  return sh("lua5.4 " .. util.shell_quote(TIMMC) .. " " .. args)
end

describe("spec names", function()
  it("refuses names whose symbols or header would collide", function()
    for _, name in ipairs({ "string", "math", "stdio", "errno", "pthread_mutex", "timmc",
                            "timmc_x", "cJSON", "xnnpack", "xnn_net", "strange", "memo",
                            "isnet", "tonet", "EPERM", "E2BIG", "SIGNAL", "sigma", "_net",
                            "__x", "stbi_x", "pthreadpool", "jpeglib", "main" }) do
      local ok, err = pcall(spec.check, { name = name, architecture = "resnet18" }, "t.json")
      assert.is_false(ok, name)
      assert.is_truthy(err.msg:find("would collide with the C library, POSIX", 1, true), name)
    end
    for _, name in ipairs({ "net", "resnet50", "Stringy", "my_string", "e2big_net", "ese_net",
                            "backbone", "tf_model" }) do
      assert.are.equal(name, spec.check({ name = name, architecture = "resnet18" }, "t.json").name)
    end
  end)
end)

describe("spec files", function()
  it("refuses a FIFO, a device and a directory without blocking", function()
    local d = tmpdir()
    assert(os.execute("mkfifo " .. util.shell_quote(d .. "/fifo.json")))
    for _, path in ipairs({ d .. "/fifo.json", "/dev/zero", d }) do
      local out, code = timmc("generate " .. util.shell_quote(path) .. " -o " ..
                              util.shell_quote(d .. "/out"))
      assert.are.equal(2, code, out)
      assert.is_truthy(out:find("not a regular file", 1, true), out)
    end
    os.execute("rm -rf " .. util.shell_quote(d))
  end)

  it("refuses a spec larger than a spec can be", function()
    local d = tmpdir()
    write(d .. "/big.json", '{"name": "n", "architecture": "resnet18"}' .. string.rep(" ", 2 << 20))
    local out, code = timmc("generate " .. d .. "/big.json -o " .. d .. "/out")
    assert.are.equal(2, code)
    assert.is_truthy(out:find("expected a file of at most 1048576", 1, true), out)
    os.execute("rm -rf " .. util.shell_quote(d))
  end)

  it("refuses a key given twice, at any depth", function()
    local d = tmpdir()
    write(d .. "/dup.json", '{"name": "a", "architecture": "resnet18", "name": "b"}')
    local out, code = timmc("generate " .. d .. "/dup.json -o " .. d .. "/out")
    assert.are.equal(2, code)
    assert.is_truthy(out:find("key 'name' appears twice in one object", 1, true), out)
    -- a key repeated in different objects, and strings holding braces, are fine
    write(d .. "/ok.json", '{"name": "a", "architecture": "resnet18", "input_size": [3, 64, 64]}')
    assert.are.equal(0, select(2, timmc("generate " .. d .. "/ok.json -o " .. d .. "/out")))
    os.execute("rm -rf " .. util.shell_quote(d))
  end)

  it("refuses a directory or a device as embed_weights", function()
    local d = tmpdir()
    assert(os.execute("mkdir " .. d .. "/w.safetensors"))
    write(d .. "/s.json", '{"name": "n", "architecture": "resnet18", "embed_weights": "w.safetensors"}')
    local out, code = timmc("generate " .. d .. "/s.json -o " .. d .. "/out")
    assert.are.equal(2, code)
    assert.is_truthy(out:find("w.safetensors is not a regular file", 1, true), out)
    write(d .. "/s.json", '{"name": "n", "architecture": "resnet18", "embed_weights": "/dev/zero"}')
    out, code = timmc("generate " .. d .. "/s.json -o " .. d .. "/out")
    assert.are.equal(2, code)
    assert.is_truthy(out:find("/dev/zero is not a regular file", 1, true), out)
    os.execute("rm -rf " .. util.shell_quote(d))
  end)
end)

describe("untrusted text in the C", function()
  it("escapes the spec's path and embed_weights in comments and strings", function()
    assert.are.equal("x* / int injected; /* y?", util.c_comment("x*/ int injected; /* y\n"))
    assert.are.equal("a\\042b\\134c\\077\\012", util.c_string('a"b\\c?\n'))
    local d = tmpdir()
    local evil = d .. '/x*/ int injected_marker; /* "q,r\\'
    assert(os.execute("mkdir -p " .. util.shell_quote(evil)))
    write(evil .. "/s.json", '{"name": "n", "architecture": "resnet18", "input_size": [3, 32, 32]}')
    local out, code = timmc("generate " .. util.shell_quote(evil .. "/s.json") .. " -o " ..
                            util.shell_quote(d .. "/out"))
    assert.are.equal(0, code, out)
    -- the C is still the C timmc meant: it compiles, and the marker is no symbol
    out, code = sh("cc -c -o " .. util.shell_quote(d .. "/n.o") .. " -I" ..
                   util.shell_quote(d .. "/out") .. " -I" ..
                   util.shell_quote(helper.root .. "/runtime") .. " " ..
                   util.shell_quote(d .. "/out/n.c") .. " && nm " .. util.shell_quote(d .. "/n.o"))
    assert.are.equal(0, code, out)
    assert.is_nil(out:find("injected_marker", 1, true), out)
    local c = util.read_file(d .. "/out/n.c")
    -- in comments "*/" is broken up; in the string, quotes and backslashes are escaped
    assert.is_truthy(c:find(" * from [^\n]*x%* / int injected_marker; /%* \"q,r\\/s%.json; do not edit"))
    assert.is_truthy(c:find('x*/ int injected_marker; /* \\042q,r\\134/s.json",', 1, true))
    os.execute("rm -rf " .. util.shell_quote(d))
  end)

  it("names an embedded checkpoint by its absolute path, never the current folder's", function()
    local d = tmpdir()
    assert(os.execute("mkdir -p " .. d .. "/spec " .. d .. "/cwd"))
    write(d .. "/spec/w.safetensors", "x")
    write(d .. "/spec/s.json", '{"name": "n", "architecture": "resnet18", "embed_weights": "w.safetensors"}')
    local s, arch = spec.load(d .. "/spec/s.json")
    local define = driver.embed_define(s, d .. "/spec/s.json")
    local real = sh("realpath " .. d .. "/spec/w.safetensors"):gsub("\n$", "")
    assert.are.equal('-DN_EMBED_FILE="' .. real .. '"', define)
    local m = driver.pipeline(s, arch)
    assert.is_truthy(m.c_source:find('.incbin \\"" N_EMBED_FILE "\\"\\n"', 1, true))
    os.execute("rm -rf " .. util.shell_quote(d))
  end)
end)

describe("sizes and options", function()
  it("refuses at generate an arena no static array can hold", function()
    local err = helper.error_of(helper.compile_until,
                                { name = "n", architecture = "resnet50", batch_size = 64,
                                  input_size = { 3, 512, 512 } })
    assert.is_true(util.is_user_error(err))
    assert.is_truthy(err.msg:find("over the 2130706432 a static array can take", 1, true), err.msg)
  end)

  it("takes an output folder that starts with a dash as a folder", function()
    local d = tmpdir()
    write(d .. "/s.json", '{"name": "n", "architecture": "resnet18", "input_size": [3, 32, 32]}')
    local out, code = sh("cd " .. util.shell_quote(d) .. " && lua5.4 " .. util.shell_quote(TIMMC) ..
                         " generate s.json -o -x")
    assert.are.equal(0, code, out)
    assert.is_true(util.is_regular(d .. "/-x/n.c"))
    os.execute("rm -rf " .. util.shell_quote(d))
  end)
end)
