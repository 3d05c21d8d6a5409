-- luacheck: std +busted
-- util.write_file_atomic: content lands whole under its name, through a
-- temporary name unique to the writer, and a failure leaves nothing behind.
require("helper")
local util = require("util")

local function entries(dir)
  local p = io.popen("ls -A " .. util.shell_quote(dir))
  local names = {}
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  return names
end

describe("util.write_file_atomic", function()
  local dir
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. util.shell_quote(dir)))
  end)
  after_each(function()
    os.execute("rm -rf " .. util.shell_quote(dir))
  end)

  it("writes the content and leaves no temporary file", function()
    util.write_file_atomic(dir .. "/a.c", "one")
    util.write_file_atomic(dir .. "/a.c", "two")
    assert.are.same({ "a.c" }, entries(dir))
    assert.are.equal("two", util.read_file(dir .. "/a.c"))
  end)

  it("uses a new temporary name for every write", function()
    local a, b = util.temp_path(dir .. "/a.c"), util.temp_path(dir .. "/a.c")
    assert.are_not.equal(a, b)
    assert.truthy(a:find(dir .. "/a.c.tmp.", 1, true) == 1)
  end)

  it("fails as a user error naming the path, leaving nothing", function()
    local ok, err = pcall(util.write_file_atomic, dir .. "/no/such/a.c", "x")
    assert.is_false(ok)
    assert.is_true(util.is_user_error(err))
    assert.truthy(err.msg:find(dir .. "/no/such/a.c: cannot write", 1, true))
    assert.are.same({}, entries(dir))
  end)

  it("does not replace a directory in the way, and cleans up", function()
    assert(os.execute("mkdir " .. util.shell_quote(dir .. "/a.c")))
    assert.is_false(pcall(util.write_file_atomic, dir .. "/a.c", "x"))
    assert.are.same({ "a.c" }, entries(dir))
  end)
end)
