#include "device_shim.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef LR_TEST_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace lrtest {
namespace {

bool cuda_requested() {
  const char* v = std::getenv("LR_TEST_DEVICE");
  return v && std::string(v) == "cuda";
}

}  // namespace

#ifndef LR_TEST_WITH_CUDA

bool on_cuda() {
  if (cuda_requested()) {
    std::fprintf(stderr, "LR_TEST_DEVICE=cuda, but this build has no CUDA: skipping\n");
    std::exit(77);
  }
  return false;
}

lr_status select_steps(const DLTensor* e, const DLTensor* a, const lr_select_params* p, DLTensor* kl,
                       DLTensor* keep, void* stream) {
  return lr_select_steps(e, a, p, kl, keep, stream);
}
lr_status build_targets(const DLTensor* e, const DLTensor* a, const DLTensor* rows, const lr_target_params* p,
                        DLTensor* ids, DLTensor* w, DLTensor* sup, void* stream) {
  return lr_build_targets(e, a, rows, p, ids, w, sup, stream);
}
lr_status select_and_build(const DLTensor* e, const DLTensor* a, const lr_select_params* sp,
                           const lr_target_params* tp, DLTensor* kl, DLTensor* keep, DLTensor* ids, DLTensor* w,
                           DLTensor* sup, void* stream) {
  return lr_select_and_build(e, a, sp, tp, kl, keep, ids, w, sup, stream);
}
lr_status distill_loss_backward(const DLTensor* z, const DLTensor* ids, const DLTensor* w, const lr_loss_params* p,
                                DLTensor* loss, DLTensor* grad, void* stream) {
  return lr_distill_loss_backward(z, ids, w, p, loss, grad, stream);
}
lr_status shard_select_stats(const DLTensor* e, const DLTensor* a, const lr_vocab_shard* sh,
                             const lr_select_params* p, DLTensor* stats, void* stream) {
  return lr_shard_select_stats(e, a, sh, p, stats, stream);
}
lr_status shard_select_finish(const DLTensor* stats, const lr_select_params* p, DLTensor* kl, DLTensor* keep,
                              void* stream) {
  return lr_shard_select_finish(stats, p, kl, keep, stream);
}
lr_status shard_target_candidates(const DLTensor* e, const DLTensor* a, const lr_vocab_shard* sh,
                                  const DLTensor* stats, const DLTensor* rows, const lr_target_params* p,
                                  DLTensor* cands, void* stream) {
  return lr_shard_target_candidates(e, a, sh, stats, rows, p, cands, stream);
}
lr_status shard_targets_finish(const DLTensor* cands, const lr_target_params* p, DLTensor* ids, DLTensor* w,
                               DLTensor* sup, void* stream) {
  return lr_shard_targets_finish(cands, p, ids, w, sup, stream);
}
lr_status shard_loss_stats(const DLTensor* z, const lr_vocab_shard* sh, const DLTensor* ids, const DLTensor* w,
                           const lr_loss_params* p, DLTensor* stats, void* stream) {
  return lr_shard_loss_stats(z, sh, ids, w, p, stats, stream);
}
lr_status shard_loss_backward(const DLTensor* z, const lr_vocab_shard* sh, const DLTensor* ids, const DLTensor* w,
                              const DLTensor* stats, const lr_loss_params* p, DLTensor* loss, DLTensor* grad,
                              void* stream) {
  return lr_shard_loss_backward(z, sh, ids, w, stats, p, loss, grad, stream);
}

#else

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("test shim: ") + what + ": " + cudaGetErrorString(e));
}

bool device_present() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

cudaStream_t shim_stream() {
  static cudaStream_t s = [] {
    cudaStream_t made = nullptr;
    check(cudaStreamCreateWithFlags(&made, cudaStreamNonBlocking), "creating the test stream");
    return made;
  }();
  return s;
}

// A host byte span [begin, end) of one tensor argument.
struct Span {
  uintptr_t begin = 0, end = 0;
};

bool well_formed(const DLTensor* t) {
  if (!t || t->device.device_type != kDLCPU || t->ndim < 0 || t->ndim > 3) return false;
  if (t->ndim > 0 && !t->shape) return false;
  for (int d = 0; d < t->ndim; ++d)
    if (t->shape[d] < 0 || (t->strides && t->strides[d] < 0)) return false;
  return true;
}

Span span_of(const DLTensor* t) {
  int64_t numel = 1, last = 0;
  for (int d = 0; d < t->ndim; ++d) {
    numel *= t->shape[d];
    int64_t stride = 1;
    if (t->strides) stride = t->strides[d];
    else for (int e = t->ndim - 1; e > d; --e) stride *= t->shape[e];
    if (t->shape[d] > 0) last += (t->shape[d] - 1) * stride;
  }
  const int bytes = (t->dtype.bits * t->dtype.lanes + 7) / 8;
  Span s;
  if (numel == 0 || !t->data) return s;
  s.begin = reinterpret_cast<uintptr_t>(t->data) + t->byte_offset;
  s.end = s.begin + uintptr_t(last + 1) * uintptr_t(bytes);
  return s;
}

// Device copies of every tensor of one call, with their aliasing kept.
class DeviceCall {
 public:
  explicit DeviceCall(std::vector<const DLTensor*> host) : host_(std::move(host)) {
    // Merge the spans into disjoint regions, one device buffer each.
    std::vector<Span> spans;
    for (const DLTensor* t : host_)
      if (well_formed(t) && span_of(t).begin != span_of(t).end) spans.push_back(span_of(t));
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
    for (const Span& s : spans) {
      if (!regions_.empty() && s.begin < regions_.back().host.end)
        regions_.back().host.end = std::max(regions_.back().host.end, s.end);
      else regions_.push_back({s, nullptr});
    }
    for (Region& r : regions_) {
      const size_t bytes = r.host.end - r.host.begin;
      check(cudaMalloc(&r.device, bytes), "cudaMalloc");
      check(cudaMemcpy(r.device, reinterpret_cast<const void*>(r.host.begin), bytes, cudaMemcpyHostToDevice),
            "copying an input to the device");
    }
    views_.reserve(host_.size());
    for (const DLTensor* t : host_) {
      if (!well_formed(t)) {
        views_.push_back(t ? *t : DLTensor{});
        continue;
      }
      DLTensor v = *t;
      v.device = DLDevice{kDLCUDA, 0};
      const Span s = span_of(t);
      if (s.begin != s.end) {
        const Region& r = region_of(s.begin);
        v.data = static_cast<char*>(r.device) + (s.begin - r.host.begin);
        v.byte_offset = 0;
      } else {
        v.data = nullptr;  // no elements: nothing to read or write
        v.byte_offset = 0;
      }
      views_.push_back(v);
    }
  }
  ~DeviceCall() {
    for (Region& r : regions_) cudaFree(r.device);
  }
  DeviceCall(const DeviceCall&) = delete;
  DeviceCall& operator=(const DeviceCall&) = delete;

  // The device view of argument i (nullptr stays nullptr).
  DLTensor* view(size_t i) { return host_[i] ? &views_[i] : nullptr; }

  // Waits for the call's work, then copies every region back to the host.
  void finish() {
    check(cudaStreamSynchronize(shim_stream()), "synchronising the test stream");
    for (Region& r : regions_)
      check(cudaMemcpy(reinterpret_cast<void*>(r.host.begin), r.device, r.host.end - r.host.begin,
                       cudaMemcpyDeviceToHost),
            "copying an output back");
  }

 private:
  struct Region {
    Span host;
    void* device;
  };
  const Region& region_of(uintptr_t p) const {
    for (const Region& r : regions_)
      if (p >= r.host.begin && p < r.host.end) return r;
    throw std::logic_error("test shim: span without region");
  }
  std::vector<const DLTensor*> host_;
  std::vector<Region> regions_;
  std::vector<DLTensor> views_;
};

void* stream_for(void* requested) { return requested ? requested : static_cast<void*>(shim_stream()); }

template <class Call>
lr_status run_on_device(std::vector<const DLTensor*> args, Call&& call) {
  DeviceCall dc(std::move(args));
  const lr_status s = call(dc);
  dc.finish();
  return s;
}

}  // namespace

bool on_cuda() {
  static const bool cuda = [] {
    if (!cuda_requested()) return false;
    if (!device_present()) {
      std::fprintf(stderr, "LR_TEST_DEVICE=cuda, but no CUDA device is visible: skipping the CUDA run\n");
      std::exit(77);
    }
    return true;
  }();
  return cuda;
}

lr_status select_steps(const DLTensor* e, const DLTensor* a, const lr_select_params* p, DLTensor* kl,
                       DLTensor* keep, void* stream) {
  if (!on_cuda()) return lr_select_steps(e, a, p, kl, keep, stream);
  return run_on_device({e, a, kl, keep}, [&](DeviceCall& d) {
    return lr_select_steps(d.view(0), d.view(1), p, d.view(2), d.view(3), stream_for(stream));
  });
}

lr_status build_targets(const DLTensor* e, const DLTensor* a, const DLTensor* rows, const lr_target_params* p,
                        DLTensor* ids, DLTensor* w, DLTensor* sup, void* stream) {
  if (!on_cuda()) return lr_build_targets(e, a, rows, p, ids, w, sup, stream);
  return run_on_device({e, a, rows, ids, w, sup}, [&](DeviceCall& d) {
    return lr_build_targets(d.view(0), d.view(1), d.view(2), p, d.view(3), d.view(4), d.view(5), stream_for(stream));
  });
}

lr_status select_and_build(const DLTensor* e, const DLTensor* a, const lr_select_params* sp,
                           const lr_target_params* tp, DLTensor* kl, DLTensor* keep, DLTensor* ids, DLTensor* w,
                           DLTensor* sup, void* stream) {
  if (!on_cuda()) return lr_select_and_build(e, a, sp, tp, kl, keep, ids, w, sup, stream);
  return run_on_device({e, a, kl, keep, ids, w, sup}, [&](DeviceCall& d) {
    return lr_select_and_build(d.view(0), d.view(1), sp, tp, d.view(2), d.view(3), d.view(4), d.view(5), d.view(6),
                               stream_for(stream));
  });
}

lr_status distill_loss_backward(const DLTensor* z, const DLTensor* ids, const DLTensor* w, const lr_loss_params* p,
                                DLTensor* loss, DLTensor* grad, void* stream) {
  if (!on_cuda()) return lr_distill_loss_backward(z, ids, w, p, loss, grad, stream);
  return run_on_device({z, ids, w, loss, grad}, [&](DeviceCall& d) {
    // An in-place call passes the same tensor twice: keep it one tensor.
    DLTensor* g = grad == z ? const_cast<DLTensor*>(d.view(0)) : d.view(4);
    return lr_distill_loss_backward(d.view(0), d.view(1), d.view(2), p, d.view(3), g, stream_for(stream));
  });
}

lr_status shard_select_stats(const DLTensor* e, const DLTensor* a, const lr_vocab_shard* sh,
                             const lr_select_params* p, DLTensor* stats, void* stream) {
  if (!on_cuda()) return lr_shard_select_stats(e, a, sh, p, stats, stream);
  return run_on_device({e, a, stats}, [&](DeviceCall& d) {
    return lr_shard_select_stats(d.view(0), d.view(1), sh, p, d.view(2), stream_for(stream));
  });
}

lr_status shard_select_finish(const DLTensor* stats, const lr_select_params* p, DLTensor* kl, DLTensor* keep,
                              void* stream) {
  if (!on_cuda()) return lr_shard_select_finish(stats, p, kl, keep, stream);
  return run_on_device({stats, kl, keep}, [&](DeviceCall& d) {
    return lr_shard_select_finish(d.view(0), p, d.view(1), d.view(2), stream_for(stream));
  });
}

lr_status shard_target_candidates(const DLTensor* e, const DLTensor* a, const lr_vocab_shard* sh,
                                  const DLTensor* stats, const DLTensor* rows, const lr_target_params* p,
                                  DLTensor* cands, void* stream) {
  if (!on_cuda()) return lr_shard_target_candidates(e, a, sh, stats, rows, p, cands, stream);
  return run_on_device({e, a, stats, rows, cands}, [&](DeviceCall& d) {
    return lr_shard_target_candidates(d.view(0), d.view(1), sh, d.view(2), d.view(3), p, d.view(4),
                                      stream_for(stream));
  });
}

lr_status shard_targets_finish(const DLTensor* cands, const lr_target_params* p, DLTensor* ids, DLTensor* w,
                               DLTensor* sup, void* stream) {
  if (!on_cuda()) return lr_shard_targets_finish(cands, p, ids, w, sup, stream);
  return run_on_device({cands, ids, w, sup}, [&](DeviceCall& d) {
    return lr_shard_targets_finish(d.view(0), p, d.view(1), d.view(2), d.view(3), stream_for(stream));
  });
}

lr_status shard_loss_stats(const DLTensor* z, const lr_vocab_shard* sh, const DLTensor* ids, const DLTensor* w,
                           const lr_loss_params* p, DLTensor* stats, void* stream) {
  if (!on_cuda()) return lr_shard_loss_stats(z, sh, ids, w, p, stats, stream);
  return run_on_device({z, ids, w, stats}, [&](DeviceCall& d) {
    return lr_shard_loss_stats(d.view(0), sh, d.view(1), d.view(2), p, d.view(3), stream_for(stream));
  });
}

lr_status shard_loss_backward(const DLTensor* z, const lr_vocab_shard* sh, const DLTensor* ids, const DLTensor* w,
                              const DLTensor* stats, const lr_loss_params* p, DLTensor* loss, DLTensor* grad,
                              void* stream) {
  if (!on_cuda()) return lr_shard_loss_backward(z, sh, ids, w, stats, p, loss, grad, stream);
  return run_on_device({z, ids, w, stats, loss, grad}, [&](DeviceCall& d) {
    // An in-place call passes the same tensor twice: keep it one tensor.
    DLTensor* g = grad == z ? const_cast<DLTensor*>(d.view(0)) : d.view(5);
    return lr_shard_loss_backward(d.view(0), sh, d.view(1), d.view(2), d.view(3), p, d.view(4), g,
                                  stream_for(stream));
  });
}

#endif  // LR_TEST_WITH_CUDA

}  // namespace lrtest

// Decide the device before any test runs (a skipped CUDA run exits at once).
namespace {
[[maybe_unused]] const bool kDeviceDecided = (lrtest::on_cuda(), true);
}
