-- make_input.lua OUT.npy N C H W SEED: a float32 .npy of that shape, values in
-- [-1, 1) from a fixed linear congruential sequence (the same on every host).
local out, n, c, h, w, seed = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4]),
                              tonumber(arg[5]), tonumber(arg[6])
local header = string.format("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, %d, %d), }",
                             n, c, h, w)
header = header .. string.rep(" ", 63 - (10 + #header) % 64) .. "\n"
local parts = { "\147NUMPY\1\0", string.pack("<I2", #header), header }
local x = seed
for i = 1, n * c * h * w do
  x = (x * 1103515245 + 12345) % 2147483648
  parts[#parts + 1] = string.pack("<f", x / 1073741824 - 1)
  if i % 4096 == 0 then parts = { table.concat(parts) } end
end
local f = assert(io.open(out, "wb"))
f:write(table.concat(parts))
f:close()
