# Under AddressSanitizer (the debug-asan preset) an uninstrumented host that
# loads liblightreasoner (python3, a cargo test binary) needs the ASan runtime
# loaded first, or ASan stops it at start ("ASan runtime does not come first
# in initial library list"). This sets, for the bindings' tests:
#   LR_ASAN_RUNTIME        the shared ASan runtime, or empty when not sanitized
#   LR_ASAN_HOST_ENV       ctest ENVIRONMENT entries for a host process:
#                          LD_PRELOAD of the runtime and ASAN_OPTIONS
#                          (empty when not sanitized)
# Leak detection is off in hosts: the interpreter's own allocations alive at
# exit are not ours; the C++ tests keep it on.
set(LR_ASAN_RUNTIME "")
set(LR_ASAN_HOST_ENV "")
if(NOT "${CMAKE_C_FLAGS} ${CMAKE_CXX_FLAGS}" MATCHES "-fsanitize=[^ ]*address")
  return()
endif()

if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  set(_lr_asan_name libasan.so)
else()
  set(_lr_asan_name libclang_rt.asan-${CMAKE_SYSTEM_PROCESSOR}.so)
endif()
execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=${_lr_asan_name}
                OUTPUT_VARIABLE _lr_asan_path OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT IS_ABSOLUTE "${_lr_asan_path}" OR NOT EXISTS "${_lr_asan_path}")
  message(WARNING "LightReasoner: built with -fsanitize=address but ${CMAKE_CXX_COMPILER} does not know where "
                  "${_lr_asan_name} is; the Python and Rust binding tests will fail to load the library")
  return()
endif()
set(LR_ASAN_RUNTIME "${_lr_asan_path}")
# libstdc++ too: ASan finds the real __cxa_throw when it starts, and a C host
# (python3) has not loaded it by then (else the library's first throw stops
# the process: "CHECK failed: ... real___cxa_throw").
execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libstdc++.so.6
                OUTPUT_VARIABLE _lr_stdcxx_path OUTPUT_STRIP_TRAILING_WHITESPACE)
get_filename_component(_lr_stdcxx_path "${_lr_stdcxx_path}" REALPATH)
set(_lr_preload "${LR_ASAN_RUNTIME}")
if(EXISTS "${_lr_stdcxx_path}")
  string(APPEND _lr_preload ":${_lr_stdcxx_path}")
endif()
set(LR_ASAN_HOST_ENV
    "LD_PRELOAD=${_lr_preload}"
    "ASAN_OPTIONS=detect_leaks=0:halt_on_error=1")
message(STATUS "LightReasoner: binding tests preload the ASan runtime ${LR_ASAN_RUNTIME}")
