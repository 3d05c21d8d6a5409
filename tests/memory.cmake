# Static memory: no heap in forward, embedded weights, the arena budget.
# (The arena <= 1.10 x lower bound target is checked by every seed_ test.)

# timmc_no_heap(NAME THREADS [TARGET]): NAME (a golden model) makes no heap
# call in forward. The native build runs every case; a cross build only the
# one naming its TARGET (TIMMC_TARGET), as each takes up to 10 s under the
# emulator (a fraction of a second natively) and most of what they count is
# the same C on every target: the generated forward and the runtime's
# kernels. What is the target's own, its XNNPACK and pthreadpool, a 2-thread
# case runs: resnest14d on aarch64 (also the runtime's radix softmax and sum,
# Winograd), efficientnet_b0 on armhf (SiLU's runtime kernel, squeeze-excite).
function(timmc_no_heap name threads)
  if(CMAKE_CROSSCOMPILING AND NOT "${ARGN}" STREQUAL "${TIMMC_TARGET}")
    return()
  endif()
  if(NOT TARGET no_heap_${name})
    add_executable(no_heap_${name} ${T}/no_heap_test.c)
    target_compile_definitions(no_heap_${name} PRIVATE TIMMC_MODEL=${name}_model)
    target_link_libraries(no_heap_${name} PRIVATE ${name}_model)
  endif()
  add_test(NAME no_heap_${name}_t${threads} COMMAND no_heap_${name} ${threads})
endfunction()

timmc_no_heap(g_resnet34_catavgmax 1)
timmc_no_heap(g_ecaresnet50d_os16 1)
timmc_no_heap(g_ecaresnet50d_os16 2)
timmc_no_heap(g_seresnet50_pooled 2)
timmc_no_heap(g_resnest14d_os16 2 aarch64) # the runtime kernels (radix softmax and sum) and Winograd
# the edge backbones: SiLU's runtime kernel, squeeze-excite, hard_swish, 'SAME' padding
timmc_no_heap(g_efficientnet_b0_features_os16 2 armhf)
timmc_no_heap(g_tf_mobilenetv3_large_100_odd 2)
timmc_no_heap(g_mobilenetv4_conv_small_features 1)

# embed_weights, and the two build paths agreeing: g_resnet18_cls's runner
# from CMake (timmc_add_model) and from `timmc build` (for this build's target)
# with the same weights embedded give byte-identical outputs, which pass
# golden_check. Every binary runs under the emulator when cross-compiling.
timmc_run_path(run g_resnet18_cls)
if(CMAKE_CROSSCOMPILING)
  if(NOT TIMMC_TARGET)
    message(FATAL_ERROR "cross-compiling without TIMMC_TARGET: use cmake/toolchain-*.cmake")
  endif()
  set(build_options --target ${TIMMC_TARGET} --sysroot ${TIMMC_SYSROOT})
  list(JOIN CMAKE_CROSSCOMPILING_EMULATOR " " emulator)
else()
  set(build_options)
  set(emulator "")
endif()
add_test(NAME build_paths_embed
         COMMAND ${T}/build_paths.sh ${TIMMC} ${run} ${GOLDEN_CHECK} ${T}/golden/data
                 ${WORK}/build_paths g_resnet18_cls 1 ${build_options}
         WORKING_DIRECTORY ${TIMMC_SOURCE_DIR})
set_tests_properties(build_paths_embed PROPERTIES ENVIRONMENT "TIMMC_EMULATOR=${emulator}")

if(NOT CMAKE_CROSSCOMPILING)
  add_test(NAME embed_weights
           COMMAND ${T}/embed_test.sh ${TIMMC} $<TARGET_FILE:golden_check> ${T}/golden/data
                   ${WORK}/embed g_resnet18_cls 1
           WORKING_DIRECTORY ${TIMMC_SOURCE_DIR})

  add_test(NAME max_arena_bytes
           COMMAND ${T}/bad_input.sh
                   "max_arena_bytes': the planned arena is [0-9]+ bytes \\(lower bound [0-9]+, every convolution direct\\), over the budget of 1000000"
                   ${WORK}/budget/resnet50_budget.c
                   ${TIMMC} generate ${T}/bad_specs/arena_budget.json -o ${WORK}/budget
           WORKING_DIRECTORY ${TIMMC_SOURCE_DIR})
endif()
