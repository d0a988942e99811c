# c10d, torch.distributed's C++ layer, as the LibTorch found provides it: the
# one place that decides which backends can be compiled in (the driver's
# distributed/ and the adapter's sharded tests include this file).
#   ProcessGroup, TCPStore   always: they are in libtorch_cpu (Debian's 1.13 too)
#   Gloo                     where Gloo's headers are found (Debian: libgloo-dev;
#                            a PyTorch wheel ships them in its include dir)
#   NCCL                     only where LibTorch is a CUDA build (Debian's is not)
# Defines the INTERFACE target lr_c10d (Gloo's include dir as SYSTEM and the
# USE_C10D_* / LR_C10D_* macros that Torch's headers and our code test) and
# the cache variables LR_HAVE_C10D_GLOO and LR_HAVE_C10D_NCCL (ON/OFF). It
# does not link Torch: its consumers do. Needs find_package(Torch) first.
include_guard(GLOBAL)

find_path(LR_GLOO_INCLUDE_DIR gloo/config.h HINTS ${TORCH_INCLUDE_DIRS})
add_library(lr_c10d INTERFACE)
if(LR_GLOO_INCLUDE_DIR)
  target_include_directories(lr_c10d SYSTEM INTERFACE ${LR_GLOO_INCLUDE_DIR})
  target_compile_definitions(lr_c10d INTERFACE USE_C10D_GLOO LR_C10D_GLOO)
  set(LR_HAVE_C10D_GLOO ON CACHE INTERNAL "c10d's Gloo backend is compiled in (lr_c10d)")
else()
  set(LR_HAVE_C10D_GLOO OFF CACHE INTERNAL "c10d's Gloo backend is compiled in (lr_c10d)")
endif()
if(TARGET torch_cuda OR C10_CUDA_LIBRARY OR CAFFE2_USE_CUDA)
  target_compile_definitions(lr_c10d INTERFACE USE_C10D_NCCL LR_C10D_NCCL)
  set(LR_HAVE_C10D_NCCL ON CACHE INTERNAL "c10d's NCCL backend is compiled in (lr_c10d)")
else()
  set(LR_HAVE_C10D_NCCL OFF CACHE INTERNAL "c10d's NCCL backend is compiled in (lr_c10d)")
endif()
message(STATUS "LightReasoner: c10d Gloo ${LR_HAVE_C10D_GLOO}, NCCL ${LR_HAVE_C10D_NCCL}")
