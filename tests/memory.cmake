# Static memory: no heap in forward, embedded weights, the arena budget.
# (The arena <= 1.10 x lower bound target is checked by every seed_ test.)

# timmc_no_heap(NAME THREADS): NAME (a golden model) makes no heap call in forward.
function(timmc_no_heap name threads)
  if(NOT TARGET no_heap_${name})
    timmc_model_program(no_heap_${name} ${name} ${GOLDEN_GEN} ${T}/no_heap_test.c)
  endif()
  add_test(NAME no_heap_${name}_t${threads} COMMAND no_heap_${name} ${threads})
endfunction()

timmc_no_heap(g_resnet34_catavgmax 1)
timmc_no_heap(g_ecaresnet50d_os16 1)
timmc_no_heap(g_ecaresnet50d_os16 2)
timmc_no_heap(g_seresnet50_pooled 2)
timmc_no_heap(g_resnest14d_os16 2) # the runtime kernels (radix softmax and sum) and Winograd

add_test(NAME embed_weights
         COMMAND ${T}/embed_test.sh ${TIMMC} $<TARGET_FILE:golden_check> ${T}/golden/data
                 ${WORK}/embed g_resnet18_cls 1
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})

add_test(NAME max_arena_bytes
         COMMAND ${T}/bad_input.sh
                 "max_arena_bytes': the planned arena is [0-9]+ bytes \\(lower bound [0-9]+, every convolution direct\\), over the budget of 1000000"
                 ${WORK}/budget/resnet50_budget.c
                 ${TIMMC} generate ${T}/bad_specs/arena_budget.json -o ${WORK}/budget
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
