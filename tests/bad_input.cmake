# Bad input of every kind: one clear line on stderr, exit status 2, nothing left
# behind. timmc_bad(NAME PATTERN LEFTOVER COMMAND...) is one case.
set(BAD ${WORK}/bad)
set(RUN $<TARGET_FILE:g_resnet18_cls>)
set(SPECS ${T}/bad_specs)

add_test(NAME bad_input_files
         COMMAND sh -c "mkdir -p ${BAD} && ${RUN} --random-weights 1 --save-weights ${BAD}/good.safetensors && lua5.4 ${T}/make_bad_inputs.lua ${BAD}/good.safetensors ${BAD}")
set_tests_properties(bad_input_files PROPERTIES FIXTURES_SETUP bad_files)

function(timmc_bad name pattern leftover)
  add_test(NAME bad_${name} COMMAND ${T}/bad_input.sh ${pattern} ${leftover} ${ARGN}
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

# the input (.npy)
timmc_bad(npy_wrong_shape "shape \\[1, 3, 32, 32\\] but the model expects \\[1, 3, 64, 64\\]"
          ${BAD}/out/out0.npy ${RUN} --random-weights 1 --input ${BAD}/wrong_shape.npy
          --outdir ${BAD}/out)
timmc_bad(npy_wrong_dtype "dtype float64 .* expects float32" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/wrong_dtype.npy --outdir ${BAD}/out)

# the command line
timmc_bad(cli_unknown_flag "unknown option '--wieghts'" ${BAD}/out/out0.npy
          ${RUN} --wieghts x --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(cli_threads "--threads needs an integer in 1..256, got '0'" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --threads 0 --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(cli_entry "--entry 'backbone': expected forward" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --entry backbone --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(cli_no_weights "needs --weights FILE or --random-weights SEED" ${BAD}/out/out0.npy
          ${RUN} --input ${BAD}/good.npy --outdir ${BAD}/out)
timmc_bad(cli_input_without_outdir "--input and --outdir go together" ${BAD}/out/out0.npy
          ${RUN} --random-weights 1 --input ${BAD}/good.npy)
