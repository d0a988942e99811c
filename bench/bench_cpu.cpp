// lr_bench_cpu: LightReasoner's CPU entry points against the same math written
// with LibTorch tensor ops, on [N, V] = [256, 151936] float32 and bfloat16
// logits. Names are "<op>/<dtype>/<impl>", impl = lightreasoner | torch.
//
// Counters: bytes_per_second from the minimum traffic each op must move
// (select/targets/fused read 2*N*V elements; the loss reads N*V and writes
// N*V), rows/s, and extra_peak_MiB: how far the resident set rose above its
// level at entry during one call (outputs that we preallocate are not
// counted; the composite's returned outputs are).
//
// Own flags (after Google Benchmark's): --lr_rows=N --lr_vocab=V
// --lr_threads=T (torch::set_num_threads; our library follows OMP_NUM_THREADS)
// --lr_check_only (run the agreement check and exit).
#include <benchmark/benchmark.h>
#include <lightreasoner/lightreasoner.h>
#include <torch/torch.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "agreement_check.h"
#include "logits_fixture.h"
#include "lr_calls.h"
#include "peak_memory.h"
#include "torch_composites.h"

namespace {

using namespace lrbench;

constexpr float kKappa = 0.4f;
constexpr float kBeta = 0.2f;
constexpr int64_t kK = 8;

struct Options {
  int64_t rows = 256;
  int64_t vocab = 151936;
  int threads = 2;
  bool check_only = false;
};

// Everything one dtype's benchmarks touch, allocated once.
struct Case {
  std::string dtype_name;
  LogitsPair logits;
  // Loss inputs: the composite's targets (the same for both implementations).
  TorchTargets loss_targets;
  at::Tensor loss_logits_copy;  // restored into before each in-place call
  // Our preallocated outputs.
  at::Tensor kl, keep, loss, grad;
  LrTargetsOut targets;
};

std::unique_ptr<Case> make_case(const Options& o, at::ScalarType dtype, const char* name) {
  auto c = std::make_unique<Case>();
  c->dtype_name = name;
  c->logits = make_logits(o.rows, o.vocab, dtype, /*seed=*/20250101);
  c->loss_targets = torch_targets(c->logits.expert, c->logits.amateur, kK, kBeta);
  c->loss_logits_copy = c->logits.expert.clone();
  c->kl = at::zeros({o.rows}, at::kFloat);
  c->keep = at::zeros({o.rows}, at::kByte);
  c->loss = at::zeros({1}, at::kFloat);
  c->grad = at::zeros_like(c->logits.expert);
  c->targets = alloc_targets(o.rows, kK);
  return c;
}

struct Op {
  std::string name;         // select, targets_k8, ...
  int64_t bytes_per_call;   // minimum traffic
  bool restores_logits;     // in-place: copy the logits back between calls (untimed)
  std::function<void()> ours;
  std::function<void()> torch;
};

std::vector<Op> ops_for(Case& c) {
  const int64_t nv = c.logits.expert.numel();
  const int64_t es = static_cast<int64_t>(c.logits.expert.element_size());
  Case* p = &c;  // the lambdas outlive this frame; Case lives until exit
  std::vector<Op> ops;
  ops.push_back({"select", 2 * nv * es, false,
                 [p] { lr_select(p->logits.expert, p->logits.amateur, kKappa, p->kl, p->keep); },
                 [p] {
                   TorchSelect r = torch_select(p->logits.expert, p->logits.amateur, kKappa);
                   benchmark::DoNotOptimize(r.kl.data_ptr());
                 }});
  ops.push_back({"targets_k8", 2 * nv * es, false,
                 [p] { lr_targets(p->logits.expert, p->logits.amateur, kBeta, p->targets); },
                 [p] {
                   TorchTargets r = torch_targets(p->logits.expert, p->logits.amateur, kK, kBeta);
                   benchmark::DoNotOptimize(r.ids.data_ptr());
                 }});
  ops.push_back({"fused_k8", 2 * nv * es, false,
                 [p] {
                   lr_fused(p->logits.expert, p->logits.amateur, kKappa, kBeta, p->kl, p->keep,
                            p->targets);
                 },
                 [p] {
                   TorchFused r = torch_select_and_build(p->logits.expert, p->logits.amateur,
                                                         kKappa, kK, kBeta);
                   benchmark::DoNotOptimize(r.targets.ids.data_ptr());
                 }});
  ops.push_back({"loss_backward", 2 * nv * es, false,
                 [p] {
                   lr_loss(p->logits.expert, p->loss_targets.ids, p->loss_targets.weights,
                           p->loss, p->grad);
                 },
                 [p] {
                   TorchLoss r = torch_loss_backward(p->logits.expert, p->loss_targets.ids,
                                                     p->loss_targets.weights);
                   benchmark::DoNotOptimize(r.grad.data_ptr());
                 }});
  ops.push_back({"loss_backward_inplace", 2 * nv * es, true,
                 [p] {
                   lr_loss(p->loss_logits_copy, p->loss_targets.ids, p->loss_targets.weights,
                           p->loss, p->loss_logits_copy);
                 },
                 [p] {
                   at::Tensor l = torch_loss_backward_inplace(
                       p->loss_logits_copy, p->loss_targets.ids, p->loss_targets.weights);
                   benchmark::DoNotOptimize(l.data_ptr());
                 }});
  return ops;
}

void run_timed(benchmark::State& state, Case* c, const Op& op, const std::function<void()>& fn,
               double extra_mib) {
  for (auto _ : state) {
    if (op.restores_logits) {
      state.PauseTiming();
      c->loss_logits_copy.copy_(c->logits.expert);
      state.ResumeTiming();
    }
    fn();
  }
  const int64_t rows = c->logits.expert.size(0);
  state.SetBytesProcessed(state.iterations() * op.bytes_per_call);
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["extra_peak_MiB"] = extra_mib;
}

bool parse_own_flags(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* key) -> const char* {
      const size_t n = std::strlen(key);
      return a.compare(0, n, key) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--lr_rows=")) o.rows = std::atoll(v);
    else if (const char* v2 = value("--lr_vocab=")) o.vocab = std::atoll(v2);
    else if (const char* v3 = value("--lr_threads=")) o.threads = std::atoi(v3);
    else if (a == "--lr_check_only") o.check_only = true;
    else {
      std::cerr << "lr_bench_cpu: unknown flag " << a << "\n";
      return false;
    }
  }
  return o.rows > 0 && o.vocab > 0 && o.threads > 0;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  Options opt;
  if (const char* env = std::getenv("OMP_NUM_THREADS")) opt.threads = std::max(1, std::atoi(env));
  if (!parse_own_flags(argc, argv, opt)) return 2;

  // Both sides share libgomp: set_num_threads sets the calling thread's
  // OpenMP team size, which our library's parallel regions then use too.
  torch::set_num_threads(opt.threads);
  const char* omp_env = std::getenv("OMP_NUM_THREADS");
  if (!omp_env || std::atoi(omp_env) != opt.threads)
    std::cerr << "note: OMP_NUM_THREADS=" << (omp_env ? omp_env : "(unset)")
              << " differs from --lr_threads=" << opt.threads << "\n";

  const uint32_t abi = lr_abi_version();
  std::cout << "lightreasoner ABI " << (abi >> 16) << "." << (abi & 0xffff) << ": "
            << lr_build_info() << "\n"
            << "torch threads " << at::get_num_threads() << ", OMP_NUM_THREADS "
            << (omp_env ? omp_env : "(unset)") << ", N=" << opt.rows << " V=" << opt.vocab
            << "\n";
  benchmark::AddCustomContext("lr_build_info", lr_build_info());
  benchmark::AddCustomContext("lr_threads", std::to_string(opt.threads));
  benchmark::AddCustomContext("lr_rows", std::to_string(opt.rows));
  benchmark::AddCustomContext("lr_vocab", std::to_string(opt.vocab));

  std::vector<std::unique_ptr<Case>> cases;
  cases.push_back(make_case(opt, at::kFloat, "f32"));
  cases.push_back(make_case(opt, at::kBFloat16, "bf16"));

  // Same math first, or nothing is worth timing.
  bool agree = true;
  for (const auto& c : cases)
    agree &= check_agreement(c->logits, c->dtype_name.c_str(), CheckConfig{kKappa, kBeta, kK},
                             std::cout);
  std::cout << std::flush;
  if (!agree) {
    std::cerr << "lr_bench_cpu: lightreasoner and the LibTorch composite disagree (see above); "
                 "not benchmarking different math.\n";
    return 1;
  }
  if (opt.check_only) return 0;

  // Peak extra memory of one call each, then registration.
  std::cout << "\nextra peak resident memory per call (MiB; our outputs preallocated):\n";
  std::vector<std::vector<Op>> all_ops;
  for (auto& c : cases) all_ops.push_back(ops_for(*c));
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    Case* c = cases[ci].get();
    for (const Op& op : all_ops[ci]) {
      const double ours_mib = extra_peak_mib([&] {
        if (op.restores_logits) c->loss_logits_copy.copy_(c->logits.expert);
        op.ours();
      });
      const double torch_mib = extra_peak_mib([&] {
        if (op.restores_logits) c->loss_logits_copy.copy_(c->logits.expert);
        op.torch();
      });
      std::cout << "  " << std::left << std::setw(28) << (op.name + "/" + c->dtype_name)
                << " lightreasoner " << std::right << std::setw(9) << std::fixed
                << std::setprecision(2) << ours_mib << "   torch " << std::setw(9) << torch_mib
                << "\n";
      const std::string base = op.name + "/" + c->dtype_name + "/";
      benchmark::RegisterBenchmark((base + "lightreasoner").c_str(),
                                   [c, op, ours_mib](benchmark::State& s) {
                                     run_timed(s, c, op, op.ours, ours_mib);
                                   })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark((base + "torch").c_str(),
                                   [c, op, torch_mib](benchmark::State& s) {
                                     run_timed(s, c, op, op.torch, torch_mib);
                                   })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  std::cout << std::defaultfloat << std::endl;

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
