# timmc.cmake: timmc_add_model() for a project that uses timmc, through
# add_subdirectory(timmc) or find_package(timmc). The generator runs on the
# build host at build time: it needs lua5.4 and lua-cjson there (Debian).
include_guard(GLOBAL)

# timmc_generator_sources(VAR ROOT): the files whose change regenerates a model
function(timmc_generator_sources var root)
  file(GLOB sources CONFIGURE_DEPENDS
       ${root}/generator/timmc ${root}/generator/*.lua ${root}/generator/passes/*.lua
       ${root}/generator/backends/*.lua ${root}/models/*.lua
       ${root}/templates/*.in ${root}/templates/*/*.in)
  set(${var} ${sources} PARENT_SCOPE)
endfunction()

# timmc_add_model(TARGET SPEC.json [RUNNER NAME] [OUTPUT_DIR DIR])
# A static library TARGET holding the model of SPEC.json: NAME.c and NAME.h
# (NAME is the spec's "name") generated into DIR (default
# CMAKE_CURRENT_BINARY_DIR/timmc/TARGET) at build time by `timmc generate`,
# again whenever the spec or the generator changes. Linking TARGET gives
# NAME.h's directory, the runtime (timmc::runtime) and its libraries (XNNPACK,
# pthreadpool, cJSON, libm). The model is compiled with cmake/cflags.txt's
# flags, as `timmc build` compiles it, and with embed_weights named by its
# absolute path (NAME_EMBED_FILE; the assembler would look for a relative one in
# the current folder first). RUNNER NAME also builds the command-line runner NAME
# (README: "The runner").
function(timmc_add_model target spec)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "RUNNER;OUTPUT_DIR" "")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "timmc_add_model(${target}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  get_filename_component(root ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/.. ABSOLUTE)
  get_filename_component(spec ${spec} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
  get_filename_component(spec_dir ${spec} DIRECTORY)
  if(NOT EXISTS ${spec})
    message(FATAL_ERROR "timmc_add_model(${target}): ${spec} does not exist")
  endif()
  file(READ ${spec} json)
  string(JSON name ERROR_VARIABLE err GET "${json}" name)
  if(err)
    message(FATAL_ERROR "timmc_add_model(${target}): ${spec} has no \"name\": ${err}")
  endif()
  string(JSON embed ERROR_VARIABLE no_embed GET "${json}" embed_weights)
  # an int8 model comes with its float32 reference NAME_f32 (calibration)
  string(JSON precision ERROR_VARIABLE no_precision GET "${json}" precision)
  set(reference "")
  if(NOT no_precision AND precision STREQUAL "int8")
    set(reference ${name}_f32)
  endif()
  string(JSON backend ERROR_VARIABLE no_backend GET "${json}" backend)
  # the name (and so the file names) can change: configure again when the spec does
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${spec} ${root}/cmake/cflags.txt)
  set(out ${arg_OUTPUT_DIR})
  if(NOT out)
    set(out ${CMAKE_CURRENT_BINARY_DIR}/timmc/${target})
  endif()
  timmc_generator_sources(generator_sources ${root})
  set(generated ${out}/${name}.c ${out}/${name}.h)
  if(reference)
    list(APPEND generated ${out}/${reference}.c ${out}/${reference}.h)
  endif()
  add_custom_command(
    OUTPUT ${generated}
    COMMAND ${root}/generator/timmc generate ${spec} -o ${out}
    DEPENDS ${spec} ${generator_sources}
    COMMENT "timmc: generating ${name}.c from ${spec}"
    VERBATIM)
  # (a program that never names NAME_f32_model links none of the reference)
  add_library(${target} STATIC ${generated})
  target_include_directories(${target} PUBLIC ${out})
  target_link_libraries(${target} PUBLIC timmc::runtime)
  if(NOT no_backend AND backend STREQUAL "portable")
    # the portable backend's loaders (its model file uses no XNNPACK)
    target_sources(${target} PRIVATE ${root}/runtime/timmc_portable.c)
  endif()
  file(STRINGS ${root}/cmake/cflags.txt flags REGEX "^-")
  target_compile_options(${target} PRIVATE ${flags})
  if(NOT no_embed)
    # the assembler includes the checkpoint (.incbin): rebuild when it changes
    get_filename_component(weights ${embed} REALPATH BASE_DIR ${spec_dir})
    set_source_files_properties(${out}/${name}.c PROPERTIES OBJECT_DEPENDS ${weights})
    string(TOUPPER ${name} upper)
    target_compile_definitions(${target} PRIVATE "${upper}_EMBED_FILE=\"${weights}\"")
  endif()
  set_target_properties(${target} PROPERTIES TIMMC_NAME ${name})
  if(arg_RUNNER)
    # The runner's main is compiled once for every runner of the build (it was
    # a fifth of a build's compile time, once a model): each runner adds the
    # few lines that name its model (runtime/timmc_runner.c says how).
    if(NOT TARGET timmc_runner_main)
      add_library(timmc_runner_main OBJECT ${root}/runtime/timmc_runner.c)
      target_compile_options(timmc_runner_main PRIVATE ${flags})
      target_link_libraries(timmc_runner_main PRIVATE timmc::runtime)
    endif()
    set(reference_model NULL)
    set(reference_decl "")
    if(reference)
      set(reference_model &${reference}_model)
      set(reference_decl "extern const timmc_model ${reference}_model;\n")
    endif()
    set(model_c ${CMAKE_CURRENT_BINARY_DIR}/timmc/${arg_RUNNER}_runner_model.c)
    file(CONFIGURE OUTPUT ${model_c} CONTENT
         "/* ${arg_RUNNER}'s model, for runtime/timmc_runner.c (cmake/timmc.cmake) */
#include <stddef.h>
#include \"timmc.h\"
extern const timmc_model ${name}_model;
${reference_decl}const timmc_model *const timmc_runner_model = &${name}_model;
const timmc_model *const timmc_runner_reference = ${reference_model};
")
    add_executable(${arg_RUNNER} ${model_c} $<TARGET_OBJECTS:timmc_runner_main>)
    target_link_libraries(${arg_RUNNER} PRIVATE ${target})
  endif()
endfunction()
