# netc_add_model(<target> MODEL <file.net> [TARGET <halide-target>])
#
# Runs netc on <file.net> at build time and defines the library <target>, which carries the
# model's object (every entry point and the Halide runtime) and its header <target>.h. Link an
# application to it and `#include "<target>.h"`, as Halide's add_halide_library does for
# generators. TARGET is a Halide target string (default: host).
function(netc_add_model target)
  cmake_parse_arguments(ARG "" "MODEL;TARGET" "" ${ARGN})
  if(NOT ARG_MODEL)
    message(FATAL_ERROR "netc_add_model(${target}): MODEL <file.net> is required")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "netc_add_model(${target}): unexpected arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_TARGET)
    set(ARG_TARGET host)
  endif()
  get_filename_component(model "${ARG_MODEL}" ABSOLUTE)
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${target}.netc")
  set(object "${dir}/${target}.o")
  set(header "${dir}/${target}.h")
  add_custom_command(
    OUTPUT "${object}" "${header}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${dir}"
    COMMAND netc::netc "${model}" -o "${object}" --target "${ARG_TARGET}"
    DEPENDS "${model}" netc::netc
    COMMENT "netc: compiling ${ARG_MODEL}"
    VERBATIM)
  set_source_files_properties("${object}" PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
  add_library(${target} STATIC "${object}" "${header}")
  set_target_properties(${target} PROPERTIES LINKER_LANGUAGE C)
  target_include_directories(${target} INTERFACE "${dir}")
  find_package(Threads REQUIRED)
  target_link_libraries(${target} INTERFACE Threads::Threads ${CMAKE_DL_LIBS} m)
endfunction()
