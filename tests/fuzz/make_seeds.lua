-- make_seeds.lua: writes the seed corpora corpus/safetensors/ and corpus/npy/
-- (small, valid and nearly-valid files). Run from tests/fuzz/ with lua5.4;
-- the output is checked in, so rerun only to change the seeds.

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- safetensors: TENSORS is a list of {name, dtype, shape, bytes}; META a JSON
-- object text or nil; PAD the header padding.
local function safetensors(tensors, meta, pad)
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

local function f32(...) return string.pack("<" .. string.rep("f", select("#", ...)), ...) end

local S = "corpus/safetensors/"
write(S .. "empty", safetensors({}))
write(S .. "metadata", safetensors({ { "w", "F32", { 2 }, f32(1, -2) } }, '{"format":"pt"}'))
write(S .. "conv_bn", safetensors({
  { "conv1.weight", "F32", { 2, 1, 2, 2 }, f32(1, 2, 3, 4, 5, 6, 7, 8) },
  { "bn1.weight", "F32", { 2 }, f32(1, 1) },
  { "bn1.bias", "F32", { 2 }, f32(0, 0) },
  { "bn1.running_mean", "F32", { 2 }, f32(0.5, -0.5) },
  { "bn1.running_var", "F32", { 2 }, f32(1, 2) },
  { "bn1.num_batches_tracked", "I64", {}, string.pack("<i8", 7) },
  { "fc.weight", "F16", { 1, 2 }, string.pack("<I2I2", 0x3c00, 0xc000) },
  { "fc.bias", "BF16", { 1 }, string.pack("<I2", 0x3f80) },
}, '{"format":"pt"}'))
write(S .. "all_dtypes", safetensors({
  { "a", "BOOL", { 1 }, "\1" }, { "b", "U8", { 1 }, "\2" }, { "c", "I8", { 1 }, "\3" },
  { "d", "F8_E5M2", { 1 }, "\4" }, { "e", "F8_E4M3", { 1 }, "\5" },
  { "f", "I16", { 1 }, "\6\0" }, { "g", "U16", { 1 }, "\7\0" },
  { "h", "F16", { 1 }, "\0\60" }, { "i", "BF16", { 1 }, "\0\63" },
  { "j", "I32", { 1 }, "\1\0\0\0" }, { "k", "U32", { 1 }, "\1\0\0\0" },
  { "l", "F32", { 1 }, f32(3) }, { "m", "F64", { 1 }, string.pack("<d", 4) },
  { "n", "I64", { 1 }, string.pack("<i8", 5) }, { "o", "U64", { 1 }, string.pack("<I8", 6) },
}))
write(S .. "zero_size", safetensors({ { "z", "F32", { 0, 3 }, "" }, { "s", "F32", {}, f32(1) } }))
write(S .. "non_finite", safetensors({ { "x", "F32", { 3 }, f32(1, 0 / 0, 1 / 0) },
                                       { "h", "F16", { 2 }, string.pack("<I2I2", 0x7c00, 0x7e00) } }))
write(S .. "padded", safetensors({ { "w", "F32", { 1 }, f32(1) } }, nil, 64))
write(S .. "unknown_dtype", safetensors({ { "q", "F4", { 2 }, "\0" } }))
local overlap = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' ..
                '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}'
write(S .. "overlap", string.pack("<I8", #overlap) .. overlap .. string.rep("\0", 12))

-- .npy: VERSION 1, 2 or 3; DICT the header dict text; DATA the bytes after it.
local function npy(version, dict, data)
  local pre = version == 1 and 10 or 12
  local h = dict .. string.rep(" ", 63 - (pre + #dict) % 64) .. "\n"
  local len = version == 1 and string.pack("<I2", #h) or string.pack("<I4", #h)
  return "\147NUMPY" .. string.char(version, 0) .. len .. h .. data
end

local N = "corpus/npy/"
write(N .. "f4_2x3", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                         f32(1, 2, 3, 4, 5, 6)))
write(N .. "f8_scalar", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                            string.pack("<d", 2.5)))
write(N .. "v2_vector", npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                            f32(1, 0 / 0, -1 / 0)))
write(N .. "v3_nchw", npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 2), }",
                          f32(1, 2, 3, 4)))
write(N .. "py2_long", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }",
                           f32(1, 2)))
write(N .. "double_quotes", npy(1, '{"descr": "<f4", "fortran_order": False, "shape": (1,)}',
                                f32(7)))
write(N .. "empty", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", ""))
write(N .. "fortran", npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                          f32(1, 2, 3, 4)))
write(N .. "big_endian", npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                             f32(1)))
