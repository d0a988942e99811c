// Host-side CUDA runtime helpers: where a pointer lives, the current-device
// guard, and the library's stream-ordered scratch pools.
#include <cuda_runtime.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "cuda_kernels.h"
#include "cuda_status.h"
#include "scratch_pool.h"

namespace lr::core::cuda {

int pointer_device(const void* p) {
  cudaPointerAttributes attr{};
  const cudaError_t e = cudaPointerGetAttributes(&attr, p);
  if (e == cudaErrorInvalidValue) {  // older runtimes: memory CUDA has never seen
    (void)cudaGetLastError();
    return -1;
  }
  check_cuda(e, "asking the CUDA runtime where a tensor's memory is");
  if (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged) return attr.device;
  return -1;
}

DeviceScope::DeviceScope(int device) {
  check_cuda(cudaGetDevice(&previous_), "reading the current CUDA device");
  if (previous_ != device) check_cuda(cudaSetDevice(device), "selecting the tensors' CUDA device");
}

DeviceScope::~DeviceScope() {
  int now = -1;
  if (cudaGetDevice(&now) == cudaSuccess && now != previous_) (void)cudaSetDevice(previous_);
}

namespace {

// One pool per device, made once; never destroyed (it must outlive every
// stream-ordered free still in flight at process exit).
cudaMemPool_t pool_for(int device) {
  static std::mutex mutex;
  static std::vector<cudaMemPool_t> pools;
  std::lock_guard<std::mutex> lock(mutex);
  if (device >= static_cast<int>(pools.size())) pools.resize(static_cast<size_t>(device) + 1, nullptr);
  cudaMemPool_t& pool = pools[static_cast<size_t>(device)];
  if (!pool) {
    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.handleTypes = cudaMemHandleTypeNone;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = device;
    check_cuda(cudaMemPoolCreate(&pool, &props), "creating the library's CUDA memory pool");
    // Keep up to 64 MiB cached between calls rather than returning it at
    // every synchronisation.
    uint64_t keep = uint64_t(64) << 20;
    check_cuda(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep),
               "configuring the library's CUDA memory pool");
  }
  return pool;
}

}  // namespace

StreamScratch::StreamScratch(size_t bytes, int device, cudaStream_t stream) : stream_(stream) {
  check_cuda(cudaMallocFromPoolAsync(&data_, bytes, pool_for(device), stream),
             ("allocating " + std::to_string(bytes) + " bytes of scratch on the stream").c_str());
}

StreamScratch::~StreamScratch() {
  if (data_) (void)cudaFreeAsync(data_, stream_);
}

}  // namespace lr::core::cuda
