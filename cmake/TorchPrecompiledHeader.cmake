# lr_precompile_torch(TARGET): TARGET's C++ units start from one precompiled
# <torch/torch.h> instead of parsing LibTorch's headers again.
#
# Why: those headers are most of the build. With GCC at -O3 on a 2-core
# machine a unit that includes them takes ~40 s, ~20 s of it the headers;
# the precompiled header takes ~14 s off each such unit, and the build has
# ~70 of them (bench/results/2026-12-07-precompiled-torch-header/).
#
# One header is built per kind of code and shared (REUSE_FROM) by every
# target of that kind: GCC refuses a header built with -fPIC in a -fPIE unit,
# so position-independent libraries share one and the rest (executables,
# plain static libraries) another. A header built with other settings is not
# used but warned about (-Winvalid-pch, never an error): the build stays right,
# only slower. So lr_torch, built with -Wpedantic (which undefines
# __cpp_runtime_arrays, and GCC then refuses the header), does not call this.
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
  get_property(owner GLOBAL PROPERTY LR_TORCH_PCH_OWNER_${kind})
  if(owner)
    target_precompile_headers(${target} REUSE_FROM ${owner})
  else()
    target_precompile_headers(${target} PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:<torch/torch.h$<ANGLE-R>>")
    set_property(GLOBAL PROPERTY LR_TORCH_PCH_OWNER_${kind} ${target})
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Winvalid-pch -Wno-error=invalid-pch>)
  endif()
endfunction()
