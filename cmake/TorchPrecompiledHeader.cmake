# lr_precompile_torch(TARGET): TARGET's C++ units start from one precompiled
# <torch/torch.h> instead of parsing LibTorch's headers again.
#
# Why: those headers are most of the build. With GCC at -O3 on a 2-core
# machine a unit that includes them takes ~40 s, ~20 s of it the headers;
# the precompiled header takes ~14 s off each such unit, and the build has
# ~70 of them (bench/run_build_time_bench.sh: 0.80 of the time for the
# training libraries, bench/results/2026-12-07-build-time-1325600.md).
#
# One header is built per kind of code and shared (REUSE_FROM) by every
# target of that kind: GCC refuses a header built with -fPIC in a -fPIE unit,
# so position-independent libraries share one and the rest (executables,
# plain static libraries) another. GCC also refuses a header built with a
# macro on the command line that the unit lacks: each header is built by a
# target of its own (lr_torch_pch_<kind>) with LibTorch's usage requirements
# alone, so every target built on LibTorch has at least its macros. A header
# GCC refuses anyway is warned about (-Winvalid-pch, never an error): the
# build stays right, only slower. lr_torch, built with -Wpedantic (which
# undefines __cpp_runtime_arrays), could not use it and does not call this.
# Only targets whose units mostly include LibTorch call this; a unit that does
# not would pay ~10 s to load the header.
#
# LR_PRECOMPILE_TORCH=OFF turns it off (e.g. for ccache without
# sloppiness=pch_defines,time_macros, which does not cache units using it).
option(LR_PRECOMPILE_TORCH "Precompile <torch/torch.h> once for the targets built on LibTorch" ON)

function(lr_precompile_torch target)
  if(NOT LR_PRECOMPILE_TORCH)
    return()
  endif()
  get_target_property(type ${target} TYPE)
  get_target_property(pic ${target} POSITION_INDEPENDENT_CODE)
  if(type MATCHES "SHARED_LIBRARY|MODULE_LIBRARY" OR (pic AND NOT type STREQUAL "EXECUTABLE"))
    set(kind pic)
  else()
    set(kind default)
  endif()
  set(owner lr_torch_pch_${kind})
  if(NOT TARGET ${owner})
    add_library(${owner} OBJECT ${PROJECT_SOURCE_DIR}/cmake/torch_pch_owner.cpp)
    target_link_libraries(${owner} PRIVATE ${TORCH_LIBRARIES})
    target_compile_features(${owner} PRIVATE cxx_std_17)
    if(kind STREQUAL "pic")
      set_target_properties(${owner} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    endif()
    target_precompile_headers(${owner} PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:<torch/torch.h$<ANGLE-R>>")
  endif()
  target_precompile_headers(${target} REUSE_FROM ${owner})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Winvalid-pch -Wno-error=invalid-pch>)
  endif()
endfunction()
