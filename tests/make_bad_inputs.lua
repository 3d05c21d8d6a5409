-- make_bad_inputs.lua GOOD.safetensors DIR
-- Writes the broken inputs the bad-input tests feed to timmc and its runners.
local cjson = require("cjson")
local good, dir = arg[1], arg[2]

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function write(name, s)
  local f = assert(io.open(dir .. "/" .. name, "wb"))
  f:write(s)
  f:close()
end

local blob = read(good)
local n = string.unpack("<I8", blob)
local header = cjson.decode(blob:sub(9, 8 + n))
local body = blob:sub(9 + n)

-- rebuild a file from a header table (offsets kept) and the original body
local function safetensors(h)
  local names = {}
  for k in pairs(h) do names[#names + 1] = k end
  table.sort(names)
  local parts = {}
  for _, k in ipairs(names) do
    local m = h[k]
    local shape = {}
    for i, d in ipairs(m.shape) do shape[i] = string.format("%d", d) end
    parts[#parts + 1] = string.format('%s:{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}',
                                      cjson.encode(k), m.dtype, table.concat(shape, ","),
                                      m.data_offsets[1], m.data_offsets[2])
  end
  local text = "{" .. table.concat(parts, ",") .. "}"
  text = text .. string.rep(" ", (8 - #text % 8) % 8)
  return string.pack("<I8", #text) .. text .. body
end

local missing = {}
for k, v in pairs(header) do missing[k] = v end
missing["layer1.0.conv1.weight"] = nil
write("missing.safetensors", safetensors(missing))

local reshaped = {}
for k, v in pairs(header) do reshaped[k] = v end
reshaped["fc.bias"] = { dtype = "F32", shape = { 10, 100 },
                        data_offsets = header["fc.bias"].data_offsets }
write("wrong_shape.safetensors", safetensors(reshaped))

write("truncated.safetensors", blob:sub(1, #blob - 1000))
write("header_past_end.safetensors", string.pack("<I8", #blob) .. blob:sub(9, 4096))
write("not_json.json", "{\"name\": \"x\", \"architecture\": \"resnet18\",,}")

-- .npy inputs of the wrong shape and of the wrong dtype for a [1, 3, 64, 64] model
local function npy(descr, shape, count, elsize)
  local h = string.format("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape)
  h = h .. string.rep(" ", 63 - (10 + #h) % 64) .. "\n"
  return "\147NUMPY\1\0" .. string.pack("<I2", #h) .. h .. string.rep("\0", count * elsize)
end
write("wrong_shape.npy", npy("<f4", "1, 3, 32, 32", 3 * 32 * 32, 4))
write("wrong_dtype.npy", npy("<f8", "1, 3, 64, 64", 3 * 64 * 64, 8))
write("good.npy", npy("<f4", "1, 3, 64, 64", 3 * 64 * 64, 4))
