-- files.lua: the byte formats the test scripts write by hand (well-formed or
-- deliberately broken): .npy and safetensors. Scripts outside tests/lua/ find
-- it with
--   package.path = (arg[0]:match("^(.*)/") or ".") .. "/<path to tests/lua>/?.lua;" .. package.path
local files = {}

function files.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function files.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- float32 values, little-endian
function files.f32(...) return string.pack("<" .. string.rep("f", select("#", ...)), ...) end

-- The .npy preamble of format VERSION (1, 2 or 3; default 1) around DICT, the
-- header dict text as written: magic, version, header length, then DICT padded
-- with spaces and a newline so the data starts at a multiple of 64 bytes.
function files.npy_header(dict, version)
  version = version or 1
  local pre = version == 1 and 10 or 12
  local h = dict .. string.rep(" ", 63 - (pre + #dict) % 64) .. "\n"
  local len = version == 1 and string.pack("<I2", #h) or string.pack("<I4", #h)
  return "\147NUMPY" .. string.char(version, 0) .. len .. h
end

-- The header dict of a little-endian C-order array: DESCR ('<f4'), SHAPE a
-- list of sizes.
function files.npy_dict(descr, shape)
  local sizes = {}
  for i, n in ipairs(shape) do sizes[i] = string.format("%d", n) end -- 2, not 2.0 from JSON
  local dims = table.concat(sizes, ", ") .. (#shape == 1 and "," or "")
  return string.format("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims)
end

-- A safetensors file: TENSORS is a list of {name, dtype, shape, bytes}, laid
-- out in order; META a JSON object text or nil; PAD the header's padding
-- (default: to a multiple of 8).
function files.safetensors(tensors, meta, pad)
  local parts, body, at = {}, {}, 0
  if meta then parts[#parts + 1] = '"__metadata__":' .. meta end
  for _, t in ipairs(tensors) do
    local name, dtype, shape, bytes = t[1], t[2], t[3], t[4]
    parts[#parts + 1] = string.format('"%s":{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}',
                                      name, dtype, table.concat(shape, ","), at, at + #bytes)
    body[#body + 1] = bytes
    at = at + #bytes
  end
  local text = "{" .. table.concat(parts, ",") .. "}"
  text = text .. string.rep(" ", pad or (8 - #text % 8) % 8)
  return string.pack("<I8", #text) .. text .. table.concat(body)
end

return files
