-- make_bad_inputs.lua GOOD.safetensors DIR PHOTO.png
-- Writes the broken inputs the bad-input tests feed to timmc and its runners.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lua/?.lua;" .. package.path
local cjson = require("cjson")
local files = require("files")
local good, dir, photo = arg[1], arg[2], arg[3]

local function write(name, s) files.write(dir .. "/" .. name, s) end

local blob = files.read(good)
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

local retyped = {}
for k, v in pairs(header) do retyped[k] = v end
retyped["conv1.weight"] = { dtype = "I32", shape = header["conv1.weight"].shape,
                            data_offsets = header["conv1.weight"].data_offsets }
write("wrong_dtype.safetensors", safetensors(retyped))

-- a NaN in the first weight the model reads (conv1.weight), element 5
local at = 8 + n + header["conv1.weight"].data_offsets[1] + 5 * 4
write("nan.safetensors", blob:sub(1, at) .. string.pack("<I4", 0x7fc00000) .. blob:sub(at + 5))

-- small files that fail as soon as the header is checked: a header text (as
-- written, so names may repeat) over NBYTES zero bytes
local function raw(text, nbytes)
  return string.pack("<I8", #text) .. text .. string.rep("\0", nbytes)
end
local function entry(name, dtype, shape, b, e)
  return string.format('"%s":{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}', name, dtype,
                       shape, b, e)
end
write("duplicate.safetensors", raw("{" .. entry("conv1.weight", "F32", "2", 0, 8) .. "," ..
                                   entry("fc.bias", "F32", "2", 8, 16) .. "," ..
                                   entry("conv1.weight", "F32", "2", 16, 24) .. "}", 24))
write("overlap.safetensors", raw("{" .. entry("fc.weight", "F32", "4", 0, 16) .. "," ..
                                 entry("fc.bias", "F32", "2", 8, 16) .. "}", 16))
write("unknown_dtype.safetensors", raw("{" .. entry("fc.bias", "F33", "2", 0, 8) .. "}", 8))
write("size_mismatch.safetensors", raw("{" .. entry("fc.bias", "F16", "1000", 0, 4000) .. "}",
                                       4000))
write("offsets_past_end.safetensors", raw("{" .. entry("fc.bias", "F32", "1000", 0, 4000) .. "}",
                                          100))
write("header_array.safetensors", raw("[" .. entry("fc.bias", "F32", "2", 0, 8):gsub(":", ",", 1)
                                      .. "]", 8))
write("header_not_json.safetensors", raw('{"fc.bias": {"dtype": "F32",', 8))
write("header_too_large.safetensors", string.pack("<I8", 200 * 1024 * 1024) .. "{}")

write("truncated.safetensors", blob:sub(1, #blob - 1000))
write("header_past_end.safetensors", string.pack("<I8", #blob) .. blob:sub(9, 4096))
write("not_json.json", "{\"name\": \"x\", \"architecture\": \"resnet18\",,}")
write("spec_out_indices.json",
      '{"name": "x", "architecture": "resnet18", "out_indices": [1, 2]}')
write("spec_batch_size_zero.json", '{"name": "x", "architecture": "resnet18", "batch_size": 0}')
write("spec_not_object.json", '["resnet18"]')
write("spec_no_name.json", '{"architecture": "resnet18"}')
write("spec_bad_name.json", '{"name": "9x", "architecture": "resnet18"}')

-- .npy inputs of the wrong shape and of the wrong dtype for a [1, 3, 64, 64] model
local function npy(descr, shape, count, elsize)
  local dict = string.format("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr,
                             shape)
  return files.npy_header(dict) .. string.rep("\0", count * elsize)
end
write("wrong_shape.npy", npy("<f4", "1, 3, 32, 32", 3 * 32 * 32, 4))
write("wrong_dtype.npy", npy("<f8", "1, 3, 64, 64", 3 * 64 * 64, 8))
write("good.npy", npy("<f4", "1, 3, 64, 64", 3 * 64 * 64, 4))
write("not_npy.npy", "1.0, 2.0, 3.0\n")
write("truncated.npy", npy("<f4", "1, 3, 64, 64", 3 * 64 * 64, 4):sub(1, -101))
write("fortran.npy", npy("<f4", "1, 3, 64, 64", 3 * 64 * 64, 4):gsub("False", "True ", 1))
write("bad_header.npy", npy("<f4", "1, 3, 64; 64", 3 * 64 * 64, 4))
write("big_endian.npy", npy(">f4", "1, 3, 64, 64", 3 * 64 * 64, 4))

-- strict parsing: a NUL inside a tensor name must not let "fc.bias\0x" stand
-- for fc.bias; nor may a .npy header hold text after its dict or a NUL in descr
local renamed = {}
for k, v in pairs(header) do renamed[k] = v end
renamed["fc.bias\0x"], renamed["fc.bias"] = header["fc.bias"], nil
write("nul_name.safetensors", safetensors(renamed))
write("trailing_text.npy", files.npy_header("{'descr': '<f4', 'fortran_order': False, " ..
                                            "'shape': (1, 3, 64, 64), } x") ..
                           string.rep("\0", 3 * 64 * 64 * 4))
write("nul_descr.npy", npy("<f4\0x", "1, 3, 64, 64", 3 * 64 * 64, 4))

-- images (--image): not an image, a PNG cut short, a PNG whose header declares
-- 100000 x 100000 pixels (refused before anything is allocated)
write("not_image.png", "hello, not a picture\n")
local png = files.read(photo)
write("truncated.png", png:sub(1, 3000))
write("huge.png", png:sub(1, 16) .. string.pack(">I4>I4", 100000, 100000) .. png:sub(25, 3000))
