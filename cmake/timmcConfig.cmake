# find_package(timmc): the installed runtime (timmc::runtime, with XNNPACK,
# pthreadpool and cJSON as timmc::XNNPACK, timmc::pthreadpool, timmc::cjson)
# and timmc_add_model(TARGET SPEC.json [RUNNER NAME] [OUTPUT_DIR DIR]).
include(${CMAKE_CURRENT_LIST_DIR}/timmcDeps.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/timmcTargets.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/timmc.cmake)
