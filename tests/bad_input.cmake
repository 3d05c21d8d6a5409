# Bad input of every kind: one clear line on stderr, exit status 2, nothing left
# behind. timmc_bad(NAME PATTERN LEFTOVER COMMAND...) is one case.
set(BAD ${WORK}/bad)
set(RUN $<TARGET_FILE:g_resnet18_cls>)
set(SPECS ${T}/bad_specs)

add_test(NAME bad_input_files
         COMMAND sh -c "mkdir -p ${BAD} && ${RUN} --random-weights 1 --save-weights ${BAD}/good.safetensors && lua5.4 ${T}/make_bad_inputs.lua ${BAD}/good.safetensors ${BAD} ${T}/../examples/images/chelsea.png && rm -f ${BAD}/fifo && mkfifo ${BAD}/fifo")
set_tests_properties(bad_input_files PROPERTIES FIXTURES_SETUP bad_files)

# What a case may write (${BAD}/gen, ${BAD}/out, ${BAD}/saved*) goes to a folder
# of its own, so that cases running in parallel cannot remove each other's
# leftovers before they are seen.
function(timmc_bad name pattern leftover)
  set(args ${leftover} ${ARGN})
  foreach(dir gen out saved)
    string(REPLACE "${BAD}/${dir}" "${BAD}/${name}/${dir}" args "${args}")
  endforeach()
  add_test(NAME bad_${name} COMMAND ${T}/bad_input.sh ${pattern} ${args}
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(bad_${name} PROPERTIES FIXTURES_REQUIRED bad_files)
endfunction()

# the spec (timmc generate)
timmc_bad(spec_unknown_architecture "unknown architecture 'resnet5' .*resnet50" ${BAD}/gen/x.c
          ${TIMMC} generate ${SPECS}/unknown_architecture.json -o ${BAD}/gen)
timmc_bad(spec_unknown_key "unknown key 'output_strid'" ${BAD}/gen/x.c
          ${TIMMC} generate ${SPECS}/unknown_key.json -o ${BAD}/gen)
timmc_bad(spec_wrong_type "key 'batch_size' must be an integer" ${BAD}/gen/x.c
          ${TIMMC} generate ${SPECS}/wrong_type.json -o ${BAD}/gen)
timmc_bad(spec_out_indices_range "key 'out_indices' has 5, out of range" ${BAD}/gen/x.c
          ${TIMMC} generate ${SPECS}/out_indices_range.json -o ${BAD}/gen)
timmc_bad(spec_output_stride "key 'output_stride' is 12, expected 8, 16 or 32" ${BAD}/gen/x.c
          ${TIMMC} generate ${SPECS}/output_stride.json -o ${BAD}/gen)
timmc_bad(spec_not_json "not_json.json: not valid JSON" ${BAD}/gen/x.c
          ${TIMMC} generate ${BAD}/not_json.json -o ${BAD}/gen)
timmc_bad(spec_missing_file "nope.json: cannot open" ${BAD}/gen/x.c
          ${TIMMC} generate ${BAD}/nope.json -o ${BAD}/gen)
timmc_bad(spec_pool_without_head "global_pool.*num_classes 0" ${BAD}/gen/x.c
          ${TIMMC} generate ${SPECS}/pool_without_head.json -o ${BAD}/gen)
timmc_bad(generator_usage "unknown command 'generat'" ${BAD}/gen/x.c
          ${TIMMC} generat ${SPECS}/wrong_type.json -o ${BAD}/gen)
timmc_bad(spec_out_indices_without_features_only "key 'out_indices' needs \"features_only\": true"
          ${BAD}/gen/x.c ${TIMMC} generate ${BAD}/spec_out_indices.json -o ${BAD}/gen)
timmc_bad(spec_batch_size_zero "key 'batch_size' is 0, expected 1\\.\\.4096" ${BAD}/gen/x.c
          ${TIMMC} generate ${BAD}/spec_batch_size_zero.json -o ${BAD}/gen)
timmc_bad(spec_not_object "spec_not_object.json: the spec must be a JSON object" ${BAD}/gen/x.c
          ${TIMMC} generate ${BAD}/spec_not_object.json -o ${BAD}/gen)
timmc_bad(spec_no_name "missing required key 'name'" ${BAD}/gen/x.c
          ${TIMMC} generate ${BAD}/spec_no_name.json -o ${BAD}/gen)
timmc_bad(spec_bad_name "key 'name' must be a C identifier .*got \"9x\"" ${BAD}/gen/9x.c
          ${TIMMC} build ${BAD}/spec_bad_name.json -o ${BAD}/gen)

# the weights (runner --weights)
timmc_bad(weights_missing_tensor
          "tensor 'layer1.0.conv1.weight' is missing \\(expected F32 \\[64, 64, 3, 3\\]\\)"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/missing.safetensors
          --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(weights_wrong_shape "tensor 'fc.bias' has shape \\[10, 100\\] but the model expects \\[1000\\]"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/wrong_shape.safetensors
          --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(weights_truncated "truncated.safetensors: .*(truncated|past the end|out of bounds)"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/truncated.safetensors
          --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(weights_header_past_end "header length [0-9]+ runs past the end of the file"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/header_past_end.safetensors
          --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(weights_missing_file "nope.safetensors: cannot open" ${BAD}/out/out0.npy
          ${RUN} --weights ${BAD}/nope.safetensors --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(weights_wrong_dtype "tensor 'conv1.weight' has dtype I32, expected F32, F16 or BF16"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/wrong_dtype.safetensors
          --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(weights_duplicate_name "tensor 'conv1.weight' appears more than once in the header"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/duplicate.safetensors
          --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(weights_overlap "tensors 'fc.weight' \\[0, 16\\) and 'fc.bias' \\[8, 16\\) overlap"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/overlap.safetensors
          --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(weights_unknown_dtype "tensor 'fc.bias': unknown dtype 'F33', expected one of BOOL"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/unknown_dtype.safetensors
          --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(weights_size_mismatch
          "tensor 'fc.bias': F16 \\[1000\\] takes 2000 bytes but data_offsets \\[0, 4000\\] hold 4000"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/size_mismatch.safetensors
          --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(weights_offsets_past_end "tensor 'fc.bias' ends at byte 4000 of the data area but the file holds only 100"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/offsets_past_end.safetensors
          --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(weights_header_not_object "header_array.safetensors: header is not a JSON object"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/header_array.safetensors
          --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(weights_header_not_json "header_not_json.safetensors: header is not valid JSON"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/header_not_json.safetensors
          --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(weights_header_too_large "header length 209715200 exceeds the limit of 104857600 bytes"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/header_too_large.safetensors
          --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(weights_non_finite
          "tensor 'conv1.weight' \\(F32 \\[64, 3, 7, 7\\]\\) holds NaN at element 5. expected finite"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/nan.safetensors --check-finite
          --input ${BAD}/good.npy --outdir ${BAD}/out)

# the input (.npy)
timmc_bad(npy_wrong_shape "shape \\[1, 3, 32, 32\\] but the model expects \\[1, 3, 64, 64\\]"
          ${BAD}/out/out0.npy ${RUN} --random-weights 1 --input ${BAD}/wrong_shape.npy
          --outdir ${BAD}/out)
timmc_bad(npy_wrong_dtype "dtype float64 .* expects float32" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/wrong_dtype.npy --outdir ${BAD}/out)
timmc_bad(npy_not_npy "not_npy.npy: not a .npy file \\(no .x93NUMPY magic\\)" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/not_npy.npy --outdir ${BAD}/out)
timmc_bad(npy_truncated "truncated.npy: truncated: shape \\[1, 3, 64, 64\\] of float32 needs 49152 bytes"
          ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/truncated.npy --outdir ${BAD}/out)
timmc_bad(npy_fortran_order "fortran.npy: fortran_order arrays are not supported" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/fortran.npy --outdir ${BAD}/out)
timmc_bad(npy_bad_header "bad_header.npy: malformed .npy header \\(expected ',' or '\\)' in the shape"
          ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/bad_header.npy --outdir ${BAD}/out)
timmc_bad(npy_big_endian "big_endian.npy: dtype '>f4' is not supported, expected float32"
          ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/big_endian.npy --outdir ${BAD}/out)
timmc_bad(npy_missing_file "nope.npy: cannot open" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/nope.npy --outdir ${BAD}/out)
# a bad input found after the weights are made must not leave --save-weights behind
timmc_bad(npy_bad_with_save_weights "wrong_shape.npy: shape \\[1, 3, 32, 32\\]" ${BAD}/saved.safetensors
          ${RUN} --random-weights 1 --save-weights ${BAD}/saved.safetensors
          --input ${BAD}/wrong_shape.npy --outdir ${BAD}/out)

# the command line
timmc_bad(cli_unknown_flag "unknown option '--wieghts'" ${BAD}/out/out0.npy
          ${RUN} --wieghts x --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(cli_threads "--threads needs an integer in 1..256, got '0'" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --threads 0 --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(cli_entry "--entry 'backbone': expected forward" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --entry backbone --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(cli_no_weights "needs --weights FILE or --random-weights SEED" ${BAD}/out/out0.npy
          ${RUN} --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(cli_input_without_outdir "--input needs --outdir OUT" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/good.npy)

# images (--image, --save-png)
set(PHOTO ${T}/../examples/images/chelsea.png)
timmc_bad(image_not_image "not_image.png: not a PNG or JPEG image" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --image ${BAD}/not_image.png --outdir ${BAD}/out)
timmc_bad(image_truncated "truncated.png: truncated PNG" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --image ${BAD}/truncated.png --outdir ${BAD}/out)
timmc_bad(image_huge "huge.png: .*100000.*16384" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --image ${BAD}/huge.png --outdir ${BAD}/out)
timmc_bad(image_missing "nope.png" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --image ${BAD}/nope.png --outdir ${BAD}/out)
timmc_bad(image_count "2 --image files for a batch of 1" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --image ${PHOTO} --image ${PHOTO} --outdir ${BAD}/out)
timmc_bad(image_and_input "give --input or --image, not both" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --image ${PHOTO} --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(image_fifo "fifo: not a regular file" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --image ${BAD}/fifo --outdir ${BAD}/out)
timmc_bad(png_pooled "--save-png: the entry's outputs are pooled vectors" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --image ${PHOTO} --save-png ${BAD}/out)
timmc_bad(cli_bench_zero "--bench needs an integer in 1\\.\\.1000000, got '0'" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --bench 0 --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(cli_save_without_random "--save-weights needs --random-weights" ${BAD}/saved.safetensors
          ${RUN} --weights ${BAD}/good.safetensors --save-weights ${BAD}/saved.safetensors)
timmc_bad(cli_weights_and_seed "give --weights or --random-weights, not both" ${BAD}/out/out0.npy
          ${RUN} --weights ${BAD}/good.safetensors --random-weights 1
          --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(cli_seed_not_integer "--random-weights needs an integer in 0\\.\\.2147483647, got 'x1'"
          ${BAD}/out/out0.npy ${RUN} --random-weights x1 --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(cli_missing_value "--outdir needs a value" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/good.npy --outdir)
timmc_bad(cli_nothing_to_do "nothing to do: give --input IN.npy --outdir OUT" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --check-finite)

timmc_bad(spec_winograd_value
          "key 'winograd' is \"fast\", expected \"auto\", \"always\" or \"never\"" ${BAD}/gen/x.c
          ${TIMMC} generate ${SPECS}/winograd_value.json -o ${BAD}/gen)

# families whose timm models have no dilation refuse output_stride 8 and 16
timmc_bad(spec_densenet_output_stride
          "key 'output_stride': densenet121 does not support output_stride 16" ${BAD}/gen/x.c
          ${TIMMC} generate ${SPECS}/densenet_output_stride.json -o ${BAD}/gen)
timmc_bad(spec_vovnet_output_stride
          "key 'output_stride': ese_vovnet19b_dw does not support output_stride 8" ${BAD}/gen/x.c
          ${TIMMC} generate ${SPECS}/vovnet_output_stride.json -o ${BAD}/gen)

# files that are not regular files are refused at once: a FIFO must not block
# the open (the TIMEOUT turns a hang into a failure), nor a device be read
timmc_bad(weights_fifo "fifo: not a regular file \\(a FIFO\\), expected a regular file"
          ${BAD}/out/out0.npy ${RUN} --weights ${BAD}/fifo --input ${BAD}/good.npy
          --outdir ${BAD}/out)
timmc_bad(npy_fifo "fifo: not a regular file \\(a FIFO\\), expected a regular file"
          ${BAD}/out/out0.npy ${RUN} --random-weights 1 --input ${BAD}/fifo --outdir ${BAD}/out)
timmc_bad(weights_device "/dev/zero: not a regular file \\(a character device\\), expected"
          ${BAD}/out/out0.npy ${RUN} --weights /dev/zero --input ${BAD}/good.npy
          --outdir ${BAD}/out)
timmc_bad(npy_directory "bad: not a regular file \\(a directory\\), expected a regular file"
          ${BAD}/out/out0.npy ${RUN} --random-weights 1 --input ${BAD} --outdir ${BAD}/out)
set_tests_properties(bad_weights_fifo bad_npy_fifo PROPERTIES TIMEOUT 30)

# output paths: empty, a file, below a file, not writable (even by root: sysfs)
timmc_bad(cli_outdir_empty "--outdir is empty, expected a directory" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/good.npy --outdir @EMPTY@)
timmc_bad(cli_save_weights_empty "--save-weights is empty, expected a file name"
          ${BAD}/saved.safetensors ${RUN} --random-weights 1 --save-weights @EMPTY@)
timmc_bad(outdir_is_file "good.npy: not a directory \\(a file\\), expected an output directory"
          ${BAD}/out/out0.npy ${RUN} --random-weights 1 --input ${BAD}/good.npy
          --outdir ${BAD}/good.npy)
timmc_bad(outdir_below_file "good.npy/sub: cannot create the output directory: Not a directory"
          ${BAD}/out/out0.npy ${RUN} --random-weights 1 --input ${BAD}/good.npy
          --outdir ${BAD}/good.npy/sub)
timmc_bad(save_weights_below_file "good.npy/w.safetensors: cannot create .*Not a directory"
          ${BAD}/saved.safetensors ${RUN} --random-weights 1
          --save-weights ${BAD}/good.npy/w.safetensors)
if(IS_DIRECTORY /sys/kernel)
  timmc_bad(outdir_unwritable "/sys/kernel: cannot write in the output directory"
            ${BAD}/out/out0.npy ${RUN} --random-weights 1 --input ${BAD}/good.npy
            --outdir /sys/kernel)
endif()

# strict parsing
timmc_bad(weights_nul_name "nul_name.safetensors: .*NUL" ${BAD}/out/out0.npy
          ${RUN} --weights ${BAD}/nul_name.safetensors --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(npy_trailing_text "trailing_text.npy: malformed .npy header \\(text after the dict"
          ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/trailing_text.npy --outdir ${BAD}/out)
timmc_bad(npy_nul_in_descr "nul_descr.npy: malformed .npy header \\(NUL or control character"
          ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/nul_descr.npy --outdir ${BAD}/out)

# a long path does not push the reason out of the message
string(REPEAT "long_directory_name/" 110 LONG)
timmc_bad(npy_long_path "/nope.npy: cannot open: No such file or directory$" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/${LONG}nope.npy --outdir ${BAD}/out)

# outputs: a run replaces an earlier run's set as a whole (out1.npy.. of a run
# with more outputs go; other files stay), leaves nothing of its own beside
# it, and its files get 0666 less the umask
add_test(NAME bad_outdir_replaces_set
         COMMAND sh -c "d=${BAD}/replace && rm -rf $d && mkdir -p $d && for f in out0 out1 out2 out12 out01 notes; do echo old > $d/$f.npy; done && umask 027 && ${RUN} --random-weights 1 --input ${BAD}/good.npy --outdir $d && ls -A $d | tr '\\n' ' ' && test \"$(ls -A $d | tr '\\n' ' ')\" = 'notes.npy out0.npy out01.npy ' && head -c 6 $d/out0.npy | grep -q NUMPY && test $(stat -c %a $d/out0.npy) = 640")
set_tests_properties(bad_outdir_replaces_set PROPERTIES FIXTURES_REQUIRED bad_files)
