# int8 models (docs/int8.md): calibration, quality against float32 (an SQNR
# floor on every output, on an image calibration did not see), determinism
# across thread counts, and bad input.
# The end-to-end cases are among the longest of the suite (under an emulator
# the longest: 15 to 30 s), and declared last: their COST has ctest -j start
# them first in a fresh build, which has no timings yet, rather than leave
# one running alone at the end.
set(INT8_CASES
  # name        SQNR floor (dB): measured (random weights) minus a margin
  "q_resnet18 20"
  "q_mnv3s 25")
foreach(case ${INT8_CASES})
  string(REPLACE " " ";" fields ${case})
  list(GET fields 0 name)
  list(GET fields 1 floor)
  timmc_add_model(${name}_model ${T}/int8/${name}.json RUNNER ${name}
                  OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/int8)
  timmc_run_path(run ${name})
  add_test(NAME int8_${name} COMMAND ${T}/int8/int8_test.sh ${run} ${WORK}/int8_${name} ${floor})
  set_tests_properties(int8_${name} PROPERTIES COST 30)
endforeach()

# Bad input (native: bad_input.cmake's timmc_bad): one line, exit 2, no checkpoint
# or output written.
if(NOT CMAKE_CROSSCOMPILING)
  set(Q $<TARGET_FILE:q_resnet18>)
  set(QB ${BAD}/int8)
  add_test(NAME bad_int8_files
           COMMAND sh -c "rm -rf ${QB} && mkdir -p ${QB}/empty ${QB}/shape ${QB}/dtype ${QB}/cal && cp ${BAD}/wrong_shape.npy ${QB}/shape/ && cp ${BAD}/wrong_dtype.npy ${QB}/dtype/ && cp ${T}/../examples/images/chelsea.png ${QB}/cal/ && ${Q} --random-weights 1 --save-weights ${QB}/f32.safetensors && ${Q} --weights ${QB}/f32.safetensors --calibrate ${QB}/cal --save-weights ${QB}/int8.safetensors")
  set_tests_properties(bad_int8_files PROPERTIES FIXTURES_SETUP bad_int8 FIXTURES_REQUIRED bad_files)
  function(timmc_bad_int8 name pattern leftover)
    timmc_bad(${name} ${pattern} ${leftover} ${ARGN})
    set_tests_properties(bad_${name} PROPERTIES FIXTURES_REQUIRED "bad_files;bad_int8")
  endfunction()
  timmc_bad_int8(int8_calibrate_empty "empty: no .npy or image files in it" ${BAD}/saved/q.st
                 ${Q} --weights ${QB}/f32.safetensors --calibrate ${QB}/empty
                 --save-weights ${BAD}/saved/q.st)
  timmc_bad_int8(int8_calibrate_shape "wrong_shape.npy.*shape.*2, 3, 64, 64" ${BAD}/saved/q.st
                 ${Q} --weights ${QB}/f32.safetensors --calibrate ${QB}/shape
                 --save-weights ${BAD}/saved/q.st)
  timmc_bad_int8(int8_calibrate_dtype "wrong_dtype.npy.*<f8" ${BAD}/saved/q.st
                 ${Q} --weights ${QB}/f32.safetensors --calibrate ${QB}/dtype
                 --save-weights ${BAD}/saved/q.st)
  timmc_bad_int8(int8_calibrate_int8_weights "has dtype I8, expected F32.*this model is float32"
                 ${BAD}/saved/q.st ${Q} --weights ${QB}/int8.safetensors --calibrate ${QB}/cal
                 --save-weights ${BAD}/saved/q.st)
  timmc_bad_int8(int8_f32_weights "act_range. is missing.*takes the checkpoint --calibrate writes"
                 ${BAD}/out/out0.npy ${Q} --weights ${QB}/f32.safetensors
                 --image ${QB}/cal/chelsea.png --image ${QB}/cal/chelsea.png --outdir ${BAD}/out)
  timmc_bad_int8(int8_weights_to_f32_model "has dtype I8, expected F32.*this model is float32"
                 ${BAD}/out/out0.npy ${RUN} --weights ${QB}/int8.safetensors
                 --input ${BAD}/good.npy --outdir ${BAD}/out)
  timmc_bad_int8(int8_random_weights "int8 model runs with --weights INT8.safetensors"
                 ${BAD}/out/out0.npy ${Q} --random-weights 1 --input ${BAD}/good.npy
                 --outdir ${BAD}/out)
  timmc_bad_int8(int8_calibrate_on_f32_model "are for int8 models.*this one is float32"
                 ${BAD}/saved/q.st ${RUN} --random-weights 1 --calibrate ${QB}/cal
                 --save-weights ${BAD}/saved/q.st)
  timmc_bad_int8(int8_spec_precision "key 'precision' is \"int4\", expected \"f32\" or \"int8\""
                 ${BAD}/gen/x.c ${TIMMC} generate ${T}/bad_specs/precision.json -o ${BAD}/gen)
endif()

# Two steps of calibration on their own: bias correction against a brute-force
# convolution, and the clamped adds' dead ranges (lossless)
add_executable(calib_test calib_test.c)
target_link_libraries(calib_test PRIVATE timmc_runtime)
add_test(NAME int8_calibration_steps COMMAND calib_test)

# timmc's int8 GEMM (runtime/timmc_qgemm.c) against XNNPACK's qc8 convolution
# on random layers, byte for byte, on 1 and 2 threads (nothing to test where
# the CPU has no AVX512-VNNI, or off x86-64)
add_executable(qgemm_test qgemm_test.c)
target_link_libraries(qgemm_test PRIVATE timmc_runtime)
add_test(NAME int8_qgemm_vs_xnnpack COMMAND qgemm_test)

# The portable backend's int8 forms (docs/portable.md): the same checks on its
# one thread, with the same checkpoint names and calibration.
# A third field names a target (TIMMC_TARGET, cmake/toolchain-*.cmake) whose
# cross build leaves the case out, neither built nor run under its emulator:
# on armhf pq_resnet18 (17 s emulated), whose layers pq_r18_os8 runs there
# too (the same resnet18, dilated in layer3 and layer4) and whose kind of
# head pq_regnety_002 (pooling, int8 logits); aarch64 runs all of them.
set(PORTABLE_INT8_CASES
  # name          SQNR floor (dB): measured (random weights) minus a margin
  "pq_mnv3s 25"             # 28.8 (blocks.0)
  "pq_resnet18 20 armhf"    # 23.7 (logits)
  "pq_regnety_002 28"       # 34.0 (logits; grouped 3x3 convs, SE with sigmoid)
  "pq_r18_os8 18"           # 21.6 (layer3; dilated 3x3 convs)
  "pq_tfmnv3 26")           # 30.3 (blocks.1; 'SAME' padding on 65x63)
foreach(case ${PORTABLE_INT8_CASES})
  string(REPLACE " " ";" fields ${case})
  list(GET fields 0 name)
  list(GET fields 1 floor)
  list(LENGTH fields n)
  if(n GREATER 2 AND CMAKE_CROSSCOMPILING)
    list(GET fields 2 left_out_on)
    if(TIMMC_TARGET STREQUAL left_out_on)
      continue()
    endif()
  endif()
  timmc_add_model(${name}_model ${T}/int8/${name}.json RUNNER ${name}
                  OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/int8)
  timmc_run_path(run ${name})
  add_test(NAME int8_${name} COMMAND ${T}/int8/int8_test.sh ${run} ${WORK}/int8_${name} ${floor} 1)
  set_tests_properties(int8_${name} PROPERTIES COST 30)
endforeach()

# The portable backend's requantization (runtime/timmc_q8.h) against TFLite
# Micro's reference form, QuantizeMultiplier's cases, the conversions' rounding
add_executable(q8_test q8_test.c)
target_link_libraries(q8_test PRIVATE timmc_runtime)
add_test(NAME int8_q8_requant COMMAND q8_test)
