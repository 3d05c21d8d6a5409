# The portable backend (docs/portable.md) against the same golden references:
# a representative subset of tests/golden/cases.txt, each spec copied with
# "backend": "portable" (the generated model has no XNNPACK in it) and its
# outputs checked by golden_check with the same tolerance. The subset covers
# every node kind the backend emits and every model family, at a few seconds
# a case:
#   resnet: plain conv, maxpool, add, linear, forward_head_pre_logits, global
#     max pool and concatenated pooled vectors, silu and gelu act nodes;
#   eca/resnet-d at output_stride 16: eca_conv, the avg_down avgpool (ceil_mode,
#     padding not counted) and its AvgPool2dSame form, dilation;
#   resnext: grouped conv; densenet: bn_act, concatenations as views,
#     transition avgpool; vovnet (ese): hard_sigmoid gate folded into linear,
#     ceil_mode maxpool; resnest: rsoftmax, radix_sum; xception; regnet (SE);
#   the MobileNet/EfficientNet builder: depthwise conv, hard_swish, SE (scale),
#     TF 'SAME' padding at an odd size, avgmax (mul_const), features_only,
#     mobilenetv4, fbnet, mnasnet, tinynet, edge residual;
#   an --image case (NAME_preprocess on the portable model).
# A cross build runs the twelve that take under a second natively (the mobile
# and EfficientNet families, regnety, the image case), under its emulator.
set(PORTABLE_GEN ${CMAKE_CURRENT_BINARY_DIR}/portable)

# timmc_portable_golden(NAME [NATIVE]): as timmc_golden with NAME's line of
# tests/golden/cases.txt (entry, seed, images), on the portable build of
# tests/golden/specs/NAME.json. NATIVE: not in a cross build, where the
# emulator takes minutes over a case of seconds (the full-size networks).
file(STRINGS ${T}/golden/cases.txt PORTABLE_CASES REGEX "^g_")
function(timmc_portable_golden name)
  if(CMAKE_CROSSCOMPILING AND "${ARGN}" STREQUAL "NATIVE")
    return()
  endif()
  set(fields)
  foreach(line ${PORTABLE_CASES})
    if(line MATCHES "^${name} ")
      string(REPLACE " " ";" fields ${line})
    endif()
  endforeach()
  if(NOT fields)
    message(FATAL_ERROR "timmc_portable_golden(${name}): not a case of tests/golden/cases.txt")
  endif()
  list(SUBLIST fields 1 -1 args)
  set(spec ${T}/golden/specs/${name}.json)
  file(READ ${spec} json)
  string(JSON json SET "${json}" backend "\"portable\"")
  file(CONFIGURE OUTPUT ${PORTABLE_GEN}/specs/${name}.json CONTENT "${json}\n" @ONLY)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${spec})
  timmc_add_model(${name}_pt_model ${PORTABLE_GEN}/specs/${name}.json RUNNER ${name}_pt
                  OUTPUT_DIR ${PORTABLE_GEN})
  timmc_run_path(run ${name}_pt)
  add_test(NAME portable_${name}
           COMMAND ${T}/golden/run_golden.sh ${run} ${GOLDEN_CHECK} ${T}/golden/data
                   ${WORK}/portable_${name} ${name} ${args})
endfunction()

timmc_portable_golden(g_resnet18_cls NATIVE)
timmc_portable_golden(g_resnet18_maxpool NATIVE)
timmc_portable_golden(g_resnet34_catavgmax NATIVE)
timmc_portable_golden(g_resnet18_silu NATIVE)
timmc_portable_golden(g_resnet18_gelu NATIVE)
timmc_portable_golden(g_ecaresnet50d_os16 NATIVE)
timmc_portable_golden(g_resnext50_os16 NATIVE)
timmc_portable_golden(g_densenet121_cls NATIVE)
timmc_portable_golden(g_ese_vovnet19b_dw_cls NATIVE)
timmc_portable_golden(g_resnest14d_os16 NATIVE)
timmc_portable_golden(g_xception41_cls NATIVE)
timmc_portable_golden(g_regnety_002_c10)
timmc_portable_golden(g_mobilenetv3_small_050)
timmc_portable_golden(g_tf_mobilenetv3_large_100_odd)
timmc_portable_golden(g_lcnet_050_features)
timmc_portable_golden(g_mobilenetv4_conv_small)
timmc_portable_golden(g_fbnetv3_b_features)
timmc_portable_golden(g_efficientnet_b0_avgmax)
timmc_portable_golden(g_efficientnet_es)
timmc_portable_golden(g_mobilenetv2_035)
timmc_portable_golden(g_mnasnet_small)
timmc_portable_golden(g_tinynet_e)
timmc_portable_golden(g_mobilenetv3_large_100_images)

if(NOT CMAKE_CROSSCOMPILING AND NOT TIMMC_SANITIZE)
  # (they run the generator and the compilers, not this build: once is enough)
  # timmc weights: NAME_weights.c's const floats are the host init's, bit for
  # bit; a checkpoint of another model is refused (one line, exit 2, no file)
  add_test(NAME portable_weights_in_flash
           COMMAND sh ${T}/portable/weights_check.sh ${TIMMC_SOURCE_DIR} ${WORK}/portable_weights)
  # the firmware image under qemu-system-arm (mps2-an500, Cortex-M7): the same
  # outputs as the host's portable build, bit for bit; its size and
  # instructions per forward printed. Skipped without the toolchain
  # (sh tools/cross.sh cortex-m installs it).
  add_test(NAME portable_cortex_m
           COMMAND sh ${T}/portable/cortexm_check.sh ${TIMMC_SOURCE_DIR} ${WORK}/portable_cortex_m)
  set_tests_properties(portable_cortex_m PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()

if(NOT CMAKE_CROSSCOMPILING AND NOT TIMMC_SANITIZE)
  # int8 on the Cortex-M7 image (mobilenetv3_small_050; lcnet_050 by hand:
  # cortexm_int8_check.sh with no spec runs both): calibrated on the host, its
  # int8 weights, biases and multipliers as const arrays, the same outputs as
  # the host's portable int8 build, bit for bit; size and instructions printed
  add_test(NAME portable_cortex_m_int8
           COMMAND sh ${T}/portable/cortexm_int8_check.sh ${TIMMC_SOURCE_DIR}
                   ${WORK}/portable_cortex_m_int8
                   ${T}/portable/specs/cmq_mobilenetv3_small_050.json)
  set_tests_properties(portable_cortex_m_int8 PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()
