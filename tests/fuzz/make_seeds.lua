-- make_seeds.lua: writes the seed corpora corpus/safetensors/ and corpus/npy/
-- (small, valid and nearly-valid files). Run from tests/fuzz/ with lua5.4;
-- the output is checked in, so rerun only to change the seeds.

package.path = (arg[0]:match("^(.*)/") or ".") .. "/../lua/?.lua;" .. package.path
local files = require("files")
local write, safetensors, f32 = files.write, files.safetensors, files.f32

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
-- names that must not pass for another: a NUL (escaped, or raw) would cut
-- "fc.bias\0x" to "fc.bias"; control characters; an escaped backslash before
-- u0000 (no NUL, accepted)
write(S .. "nul_name", safetensors({ { "fc.bias\\u0000x", "F32", { 1 }, f32(1) },
                                     { "fc.bias", "F32", { 1 }, f32(2) } }))
write(S .. "raw_nul_name", safetensors({ { "fc.bias\0x", "F32", { 1 }, f32(1) } }))
write(S .. "nul_dtype", safetensors({ { "w", "F32\\u0000", { 1 }, f32(1) } }))
write(S .. "control_name", safetensors({ { "a\\nb", "F32", { 1 }, f32(1) },
                                         { "c\1", "F32", { 1 }, f32(1) } }))
write(S .. "escaped_backslash", safetensors({ { "a\\\\u0000", "F32", { 1 }, f32(1) } }))

-- .npy: VERSION 1, 2 or 3; DICT the header dict text; DATA the bytes after it.
local function npy(version, dict, data) return files.npy_header(dict, version) .. data end

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
-- text after the dict (only spaces and the final newline may follow it), a
-- newline before the padding, a NUL inside descr
write(N .. "trailing_text", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x",
                                f32(1)))
write(N .. "early_newline", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n",
                                f32(1)))
write(N .. "nul_descr", npy(1, "{'descr': '<f4\0x', 'fortran_order': False, 'shape': (1,), }",
                            f32(1)))
