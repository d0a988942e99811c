// lr_bench_cuda: LightReasoner's CUDA entry points against the same math
// written with LibTorch CUDA tensor ops (bench/torch_composites.cpp, the
// composites the CPU benchmark uses, run on the GPU), in one binary, on
// [N, V] bfloat16 logits, N in {1024, 8192}, V = 151936.
// Names: "<op>/N/<impl>", impl = lightreasoner | torch.
//
// Time: CUDA events around each call on the current stream (manual time).
// Counters:
//   GBps          the bytes each op must move, over the time: select, targets
//                 and fused read 2 N V elements; the loss reads N V and writes
//                 N V (out of place or in place alike)
//   peak_GBps     the device's peak (H100 SXM 3350 GB/s, H200 4800 GB/s;
//                 --lr_peak_gbps=X for another card); bench/summarize_gpu_bench.py
//                 divides GBps by it
//   extra_MiB     device memory a call needs beyond its inputs and outputs:
//                 ours from the library's scratch pool (cudaMemGetInfo across
//                 the first call; 0 for select/targets), the composite's from the
//                 caching allocator's peak over one call, minus its outputs.
// Before timing, a parity line per op compares our outputs with the
// composite's (max KL difference, keep flags, target ids, loss, gradient).
#include <ATen/cuda/CUDAContext.h>
#include <benchmark/benchmark.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime.h>
#include <lightreasoner/lightreasoner.h>
#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dl_tensor_view.h"
#include "logits_fixture.h"  // LogitsPair
#include "torch_composites.h"

namespace {

using namespace lrbench;

constexpr float kKappa = 0.4f;
constexpr float kBeta = 0.2f;
constexpr int64_t kK = 8;
constexpr int64_t kVocab = 151936;

double g_peak_gbps = 0.0;

void check_lr(lr_status s, const char* what) {
  if (s != LR_OK) throw std::runtime_error(std::string(what) + ": " + lr_last_error());
}

void* current_stream() { return at::cuda::getCurrentCUDAStream().stream(); }

struct Case {
  int64_t rows;
  LogitsPair logits;          // on the GPU, bf16
  TorchTargets loss_targets;  // the composite's targets, inputs of both losses
  at::Tensor kl, keep, ids, weights, support, loss, grad, scratch_logits;
};

// The CPU benchmark's fixture (bench/logits_fixture.h), generated on the GPU
// (8192 x 151936 normals take too long on the host): N(0, 3^2) expert rows,
// every 8th with one token at +20, the next with three at +11; the amateur
// a close copy on every 3rd row (KL below kappa) and a damped, noisier one
// elsewhere.
LogitsPair make_logits_on_gpu(int64_t rows, int64_t vocab, uint64_t seed) {
  torch::manual_seed(seed);
  const auto f = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);
  const auto l = at::TensorOptions().device(at::kCUDA).dtype(at::kLong);
  at::Tensor expert = at::randn({rows, vocab}, f).mul_(3.0);
  const at::Tensor peaked = at::arange(0, rows, 8, l);
  expert.index_put_({peaked, at::randint(vocab, {peaked.size(0)}, l)}, at::full({peaked.size(0)}, 20.0, f), true);
  const at::Tensor triple = at::arange(1, rows, 8, l);
  for (int j = 0; j < 3; ++j)
    expert.index_put_({triple, at::randint(vocab, {triple.size(0)}, l)}, at::full({triple.size(0)}, 11.0, f), true);
  const at::Tensor noise = at::randn({rows, vocab}, f);
  const at::Tensor close_rows = (at::arange(rows, l).remainder(3) == 0).unsqueeze(1);
  const at::Tensor amateur = at::where(close_rows, noise * 0.1 + expert, noise * 2.0 + expert * 0.7);
  return LogitsPair{expert.to(at::kBFloat16).contiguous(), amateur.to(at::kBFloat16).contiguous()};
}

Case make_case(int64_t rows) {
  Case c;
  c.rows = rows;
  c.logits = make_logits_on_gpu(rows, kVocab, 1234 + uint64_t(rows));
  const auto f = at::TensorOptions().device(at::kCUDA);
  c.kl = at::zeros({rows}, f.dtype(at::kFloat));
  c.keep = at::zeros({rows}, f.dtype(at::kByte));
  c.ids = at::zeros({rows, kK}, f.dtype(at::kInt));
  c.weights = at::zeros({rows, kK}, f.dtype(at::kFloat));
  c.support = at::zeros({rows}, f.dtype(at::kInt));
  c.loss = at::zeros({1}, f.dtype(at::kFloat));
  c.grad = at::empty_like(c.logits.expert);
  c.scratch_logits = c.logits.expert.clone();
  c.loss_targets = torch_targets(c.logits.expert, c.logits.amateur, kK, kBeta);
  return c;
}

void lr_select_call(Case& c) {
  DLTensorView e(c.logits.expert), a(c.logits.amateur), kl(c.kl), keep(c.keep);
  lr_select_params p = lr_select_params_default();
  p.kl_threshold = kKappa;
  check_lr(lr_select_steps(e.get(), a.get(), &p, kl.get(), keep.get(), current_stream()), "lr_select_steps");
}
void lr_targets_call(Case& c) {
  DLTensorView e(c.logits.expert), a(c.logits.amateur), i(c.ids), w(c.weights), s(c.support);
  lr_target_params p = lr_target_params_default();
  p.beta = kBeta;
  check_lr(lr_build_targets(e.get(), a.get(), nullptr, &p, i.get(), w.get(), s.get(), current_stream()),
           "lr_build_targets");
}
void lr_fused_call(Case& c) {
  DLTensorView e(c.logits.expert), a(c.logits.amateur), kl(c.kl), keep(c.keep), i(c.ids), w(c.weights),
      s(c.support);
  lr_select_params sp = lr_select_params_default();
  sp.kl_threshold = kKappa;
  lr_target_params tp = lr_target_params_default();
  tp.beta = kBeta;
  check_lr(lr_select_and_build(e.get(), a.get(), &sp, &tp, kl.get(), keep.get(), i.get(), w.get(), s.get(),
                               current_stream()),
           "lr_select_and_build");
}
void lr_loss_call(Case& c, at::Tensor& logits, at::Tensor& grad) {
  DLTensorView z(logits), i(c.loss_targets.ids), w(c.loss_targets.weights), l(c.loss), g(grad);
  check_lr(lr_distill_loss_backward(z.get(), i.get(), w.get(), nullptr, l.get(), g.get(), current_stream()),
           "lr_distill_loss_backward");
}

// Parity of our CUDA outputs with the composite's on the benchmark data.
void parity(Case& c) {
  lr_select_call(c);
  const TorchSelect ts = torch_select(c.logits.expert, c.logits.amateur, kKappa);
  const double kl_diff = (c.kl.to(at::kDouble) - ts.kl.to(at::kDouble)).abs().max().item<double>();
  const int64_t keep_diff = (c.keep.to(at::kBool) != ts.keep).sum().item<int64_t>();
  lr_targets_call(c);
  const TorchTargets tt = torch_targets(c.logits.expert, c.logits.amateur, kK, kBeta);
  const int64_t id_rows_diff = (c.ids != tt.ids).any(-1).sum().item<int64_t>();
  const int64_t support_diff = (c.support != tt.support).sum().item<int64_t>();
  const double w_diff = (c.weights - tt.weights).abs().max().item<double>();
  lr_loss_call(c, c.logits.expert, c.grad);
  const TorchLoss tl = torch_loss_backward(c.logits.expert, c.loss_targets.ids, c.loss_targets.weights);
  const double loss_diff = std::abs(c.loss.item<double>() - tl.loss.item<double>());
  const double grad_diff = (c.grad.to(at::kFloat) - tl.grad.to(at::kFloat)).abs().max().item<double>();
  const double grad_max = tl.grad.to(at::kFloat).abs().max().item<double>();
  std::cout << "parity N=" << c.rows << ": select max|dKL| " << kl_diff << ", keep flags differing " << keep_diff
            << "; targets rows with other ids " << id_rows_diff << ", support sizes differing " << support_diff
            << ", max|dw| " << w_diff << "; loss |d| " << loss_diff << ", grad max|d| " << grad_diff
            << " (max|grad| " << grad_max << ")\n";
}

// Times `call` with CUDA events on the current stream.
void run_timed(benchmark::State& state, double bytes, const std::function<void()>& call) {
  const cudaStream_t s = at::cuda::getCurrentCUDAStream().stream();
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  call();  // warm-up
  cudaStreamSynchronize(s);
  for (auto _ : state) {
    cudaEventRecord(start, s);
    call();
    cudaEventRecord(stop, s);
    cudaEventSynchronize(stop);
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(double(ms) / 1e3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  state.counters["GBps"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes_moved_GB"] = bytes / 1e9;
}

// Device memory the composite needs beyond its inputs: caching-allocator peak
// over one call, minus what was allocated before it.
double torch_extra_mib(const std::function<void()>& call) {
  const int dev = at::cuda::current_device();
  at::cuda::getCurrentCUDAStream().synchronize();
  c10::cuda::CUDACachingAllocator::resetPeakStats(dev);
  const auto before = c10::cuda::CUDACachingAllocator::getDeviceStats(dev);
  const int64_t base = before.allocated_bytes[0].current;
  call();
  at::cuda::getCurrentCUDAStream().synchronize();
  const auto after = c10::cuda::CUDACachingAllocator::getDeviceStats(dev);
  return double(after.allocated_bytes[0].peak - base) / (1024.0 * 1024.0);
}

// Device memory our call needs: the rise in the device's used memory across
// a first call (the library's pool keeps what it reserved).
double lr_extra_mib(const std::function<void()>& call) {
  at::cuda::getCurrentCUDAStream().synchronize();
  size_t free_before = 0, total = 0, free_after = 0;
  cudaMemGetInfo(&free_before, &total);
  call();
  at::cuda::getCurrentCUDAStream().synchronize();
  cudaMemGetInfo(&free_after, &total);
  return free_before > free_after ? double(free_before - free_after) / (1024.0 * 1024.0) : 0.0;
}

std::vector<std::unique_ptr<Case>> g_cases;

void register_all() {
  for (auto& up : g_cases) {
    Case* c = up.get();
    const double n = double(c->rows), v = double(kVocab), el = 2.0;  // bf16
    const double read2 = 2.0 * n * v * el, loss_bytes = 2.0 * n * v * el;
    const std::string N = std::to_string(c->rows);
    struct Op {
      std::string name;
      double bytes;
      std::function<void()> lr, torch;
    };
    std::vector<Op> ops = {
        {"select", read2, [c] { lr_select_call(*c); },
         [c] { benchmark::DoNotOptimize(torch_select(c->logits.expert, c->logits.amateur, kKappa)); }},
        {"targets", read2, [c] { lr_targets_call(*c); },
         [c] { benchmark::DoNotOptimize(torch_targets(c->logits.expert, c->logits.amateur, kK, kBeta)); }},
        {"fused", read2, [c] { lr_fused_call(*c); },
         [c] {
           benchmark::DoNotOptimize(torch_select_and_build(c->logits.expert, c->logits.amateur, kKappa, kK, kBeta));
         }},
        {"loss_backward", loss_bytes, [c] { lr_loss_call(*c, c->logits.expert, c->grad); },
         [c] {
           benchmark::DoNotOptimize(
               torch_loss_backward(c->logits.expert, c->loss_targets.ids, c->loss_targets.weights));
         }},
        {"loss_backward_inplace", loss_bytes, [c] { lr_loss_call(*c, c->scratch_logits, c->scratch_logits); },
         [c] {
           benchmark::DoNotOptimize(
               torch_loss_backward_inplace(c->scratch_logits, c->loss_targets.ids, c->loss_targets.weights));
         }},
    };
    for (const Op& op : ops) {
      const double lr_mib = lr_extra_mib(op.lr);
      const double torch_mib = torch_extra_mib(op.torch);
      const double bytes = op.bytes;
      auto lr_fn = op.lr, torch_fn = op.torch;
      benchmark::RegisterBenchmark((op.name + "/" + N + "/lightreasoner").c_str(),
                                   [=](benchmark::State& st) {
                                     run_timed(st, bytes, lr_fn);
                                     st.counters["extra_MiB"] = lr_mib;
                                     st.counters["peak_GBps"] = g_peak_gbps;
                                   })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond)
          ->MinTime(0.3);
      benchmark::RegisterBenchmark((op.name + "/" + N + "/torch").c_str(),
                                   [=](benchmark::State& st) {
                                     run_timed(st, bytes, torch_fn);
                                     st.counters["extra_MiB"] = torch_mib;
                                     st.counters["peak_GBps"] = g_peak_gbps;
                                   })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond)
          ->MinTime(0.3);
    }
  }
}

double peak_for(const std::string& name) {
  if (name.find("H200") != std::string::npos) return 4800.0;
  if (name.find("H100") != std::string::npos) return 3350.0;
  return 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> row_counts = {1024, 8192};
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--lr_peak_gbps=", 15) == 0) g_peak_gbps = std::atof(argv[i] + 15);
    else if (std::strncmp(argv[i], "--lr_rows=", 10) == 0) row_counts = {std::atoll(argv[i] + 10)};
    else rest.push_back(argv[i]);
  }
  int rest_argc = static_cast<int>(rest.size());
  if (!torch::cuda::is_available()) {
    std::cerr << "lr_bench_cuda: no CUDA device\n";
    return 1;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  if (g_peak_gbps == 0.0) g_peak_gbps = peak_for(prop.name);
  std::cout << "device: " << prop.name << ", " << prop.multiProcessorCount << " SMs, peak " << g_peak_gbps
            << " GB/s (for peak_fraction); library: " << lr_build_info() << "\n";
  for (int64_t n : row_counts) {
    g_cases.push_back(std::make_unique<Case>(make_case(n)));
    parity(*g_cases.back());
  }
  register_all();
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
