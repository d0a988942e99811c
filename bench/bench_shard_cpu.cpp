// lr_bench_shard_cpu: the vocabulary-sharded calls (ABI 1.1, lr_shard_*)
// against the unsharded ones at the same total width, in one process. The
// logits [N, V] are split into W contiguous column views (no copy); each
// shard's partial call runs, the host's all-gather is simulated by copying
// the records into [W, rows, width] (the copy is timed: it is the local part
// of a real collective), and the finish runs once per shard, as every rank
// runs it. So W = 1 measures the sharded path's own overhead, and W > 1 the
// total work all ranks do together; a rank's share is about 1/W of it.
//
// Names: "<op>/<dtype>/unsharded" and "<op>/<dtype>/shards:W".
// Counters: bytes_per_second (the minimum logits traffic, as lr_bench_cpu),
// gathered_B_per_row (what the collective hands each rank per row: W times a
// rank's record).
//
// Own flags (after Google Benchmark's): --lr_rows=N --lr_vocab=V
// --lr_device=cpu|cuda (cuda: every tensor on the GPU, the calls on the
// default stream, each iteration ended by a device synchronisation;
// bench/gpu_check.sh runs it so).
#include <benchmark/benchmark.h>
#include <lightreasoner/lightreasoner.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dl_tensor_view.h"
#include "logits_fixture.h"
#include "lr_calls.h"
#include "torch_composites.h"

namespace {

using namespace lrbench;

constexpr float kBeta = 0.2f;
constexpr int64_t kK = 8;
at::Device g_device = at::kCPU;  // --lr_device

at::TensorOptions on_device(at::ScalarType t) { return at::TensorOptions().dtype(t).device(g_device); }

LrTargetsOut targets_on_device(int64_t rows, int64_t k) {
  LrTargetsOut t = alloc_targets(rows, k);
  return LrTargetsOut{t.ids.to(g_device), t.weights.to(g_device), t.support.to(g_device)};
}

// Ends a timed iteration: on the GPU, when its work is done.
void finish_iteration() {
  if (g_device.is_cuda()) torch::cuda::synchronize();
}

void check(lr_status s, const char* what) {
  if (s != LR_OK)
    throw std::runtime_error(std::string(what) + ": " + lr_status_string(s) + ": " + lr_last_error());
}

// Contiguous, uneven-free split of [0, V) into W ranges.
std::vector<int64_t> shard_offsets(int64_t vocab, int64_t shards) {
  std::vector<int64_t> off(static_cast<size_t>(shards + 1));
  for (int64_t r = 0; r <= shards; ++r) off[static_cast<size_t>(r)] = vocab * r / shards;
  return off;
}

// One dtype, one shard count: the views, the records and the outputs.
struct ShardedCase {
  int64_t shards = 1;
  std::vector<int64_t> offsets;
  std::vector<at::Tensor> expert, amateur, grad;      // [N, V_r] views of the full tensors
  std::vector<at::Tensor> select_stats, candidates, loss_stats;  // a rank's records
  at::Tensor all_select, all_candidates, all_loss;  // the gathered records
  at::Tensor kl, keep, loss;
  LrTargetsOut targets;

  lr_vocab_shard where(int64_t r, int64_t vocab) const {
    return lr_vocab_shard{sizeof(lr_vocab_shard), offsets[static_cast<size_t>(r)], vocab, vocab};
  }
};

struct Case {
  std::string dtype_name;
  LogitsPair logits;
  TorchTargets loss_targets;
  at::Tensor kl, keep, loss, grad;
  LrTargetsOut targets;
  std::vector<std::unique_ptr<ShardedCase>> sharded;
};

std::unique_ptr<ShardedCase> make_sharded(Case& c, int64_t shards) {
  const int64_t n = c.logits.expert.size(0), v = c.logits.expert.size(1);
  auto s = std::make_unique<ShardedCase>();
  s->shards = shards;
  s->offsets = shard_offsets(v, shards);
  for (int64_t r = 0; r < shards; ++r) {
    const int64_t v0 = s->offsets[static_cast<size_t>(r)], width = s->offsets[static_cast<size_t>(r + 1)] - v0;
    s->expert.push_back(c.logits.expert.narrow(1, v0, width));
    s->amateur.push_back(c.logits.amateur.narrow(1, v0, width));
    s->grad.push_back(c.grad.narrow(1, v0, width));
    s->select_stats.push_back(at::zeros({n, LR_SHARD_SELECT_STATS}, on_device(at::kDouble)));
    s->candidates.push_back(at::zeros({n, LR_SHARD_CANDIDATES(kK)}, on_device(at::kFloat)));
    s->loss_stats.push_back(at::zeros({n, LR_SHARD_LOSS_STATS}, on_device(at::kDouble)));
  }
  s->all_select = at::zeros({shards, n, LR_SHARD_SELECT_STATS}, on_device(at::kDouble));
  s->all_candidates = at::zeros({shards, n, LR_SHARD_CANDIDATES(kK)}, on_device(at::kFloat));
  s->all_loss = at::zeros({shards, n, LR_SHARD_LOSS_STATS}, on_device(at::kDouble));
  s->kl = at::zeros({n}, on_device(at::kFloat));
  s->keep = at::zeros({n}, on_device(at::kByte));
  s->loss = at::zeros({1}, on_device(at::kFloat));
  s->targets = targets_on_device(n, kK);
  return s;
}

// The simulated all-gather: each rank's record into its slot.
void gather(const std::vector<at::Tensor>& parts, at::Tensor& all) {
  for (size_t r = 0; r < parts.size(); ++r) all[static_cast<int64_t>(r)].copy_(parts[r]);
}

void sharded_select(ShardedCase& s, int64_t vocab) {
  for (int64_t r = 0; r < s.shards; ++r) {
    const lr_vocab_shard sh = s.where(r, vocab);
    DLTensorView e(s.expert[static_cast<size_t>(r)]), a(s.amateur[static_cast<size_t>(r)]),
        st(s.select_stats[static_cast<size_t>(r)]);
    check(lr_shard_select_stats(e.get(), a.get(), &sh, nullptr, st.get(), nullptr), "lr_shard_select_stats");
  }
  gather(s.select_stats, s.all_select);
  DLTensorView all(s.all_select), kl(s.kl), keep(s.keep);
  for (int64_t r = 0; r < s.shards; ++r)
    check(lr_shard_select_finish(all.get(), nullptr, kl.get(), keep.get(), nullptr), "lr_shard_select_finish");
}

// The targets round alone, from the select round's gathered stats (a
// pipeline has them: KL comes first).
void sharded_targets(ShardedCase& s, int64_t vocab) {
  lr_target_params p = lr_target_params_default();
  p.beta = kBeta;
  DLTensorView all_stats(s.all_select);
  for (int64_t r = 0; r < s.shards; ++r) {
    const lr_vocab_shard sh = s.where(r, vocab);
    DLTensorView e(s.expert[static_cast<size_t>(r)]), a(s.amateur[static_cast<size_t>(r)]),
        cand(s.candidates[static_cast<size_t>(r)]);
    check(lr_shard_target_candidates(e.get(), a.get(), &sh, all_stats.get(), nullptr, &p, cand.get(), nullptr),
          "lr_shard_target_candidates");
  }
  gather(s.candidates, s.all_candidates);
  DLTensorView all(s.all_candidates), ids(s.targets.ids), w(s.targets.weights), sup(s.targets.support);
  for (int64_t r = 0; r < s.shards; ++r)
    check(lr_shard_targets_finish(all.get(), &p, ids.get(), w.get(), sup.get(), nullptr), "lr_shard_targets_finish");
}

// Stage 1 whole: both rounds, against lr_select_and_build.
void sharded_stage1(ShardedCase& s, int64_t vocab) {
  sharded_select(s, vocab);
  sharded_targets(s, vocab);
}

void sharded_loss(ShardedCase& s, const TorchTargets& t, int64_t vocab) {
  lr_loss_params p = lr_loss_params_default();
  p.reduction = LR_REDUCTION_MEAN;
  DLTensorView ids(t.ids), w(t.weights);
  for (int64_t r = 0; r < s.shards; ++r) {
    const lr_vocab_shard sh = s.where(r, vocab);
    DLTensorView z(s.expert[static_cast<size_t>(r)]), st(s.loss_stats[static_cast<size_t>(r)]);
    check(lr_shard_loss_stats(z.get(), &sh, ids.get(), w.get(), &p, st.get(), nullptr), "lr_shard_loss_stats");
  }
  gather(s.loss_stats, s.all_loss);
  DLTensorView all(s.all_loss), loss(s.loss);
  for (int64_t r = 0; r < s.shards; ++r) {
    const lr_vocab_shard sh = s.where(r, vocab);
    DLTensorView z(s.expert[static_cast<size_t>(r)]), g(s.grad[static_cast<size_t>(r)]);
    check(lr_shard_loss_backward(z.get(), &sh, ids.get(), w.get(), all.get(), &p, loss.get(), g.get(), nullptr),
          "lr_shard_loss_backward");
  }
}

// The sharded results must be the unsharded ones before anything is timed.
bool agrees(Case& c, ShardedCase& s) {
  const int64_t v = c.logits.expert.size(1);
  lr_select(c.logits.expert, c.logits.amateur, lr_select_params_default().kl_threshold, c.kl, c.keep);
  lr_targets(c.logits.expert, c.logits.amateur, kBeta, c.targets);
  lr_loss(c.logits.expert, c.loss_targets.ids, c.loss_targets.weights, c.loss, c.grad);
  const at::Tensor unsharded_grad = c.grad.clone();
  sharded_stage1(s, v);
  sharded_loss(s, c.loss_targets, v);  // its gradient lands in c.grad: s.grad are column views of it
  const double grad_rtol = c.logits.expert.scalar_type() == at::kFloat ? 1e-4 : 1e-2;  // a 16-bit ulp
  const bool ok = at::equal(s.keep, c.keep) && at::allclose(s.kl, c.kl, 1e-5, 1e-6) &&
                  at::equal(s.targets.ids, c.targets.ids) && at::equal(s.targets.support, c.targets.support) &&
                  at::allclose(s.targets.weights, c.targets.weights, 1e-5, 1e-6) &&
                  at::allclose(s.loss, c.loss, 1e-5, 1e-6) &&
                  at::allclose(c.grad.to(at::kFloat), unsharded_grad.to(at::kFloat), grad_rtol, 1e-6);
  std::cout << "agreement " << c.dtype_name << " shards " << s.shards << ": " << (ok ? "yes" : "NO") << "\n";
  return ok;
}

void register_pair(const std::string& name, int64_t bytes, int64_t rows, double gathered_per_row,
                   std::function<void()> fn) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [=](benchmark::State& st) {
                                 for (auto _ : st) {
                                   fn();
                                   finish_iteration();
                                 }
                                 st.SetBytesProcessed(st.iterations() * bytes);
                                 st.counters["rows/s"] = benchmark::Counter(
                                     static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
                                 st.counters["gathered_B_per_row"] = gathered_per_row;
                               })
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

void register_case(Case& c) {
  const int64_t n = c.logits.expert.size(0), v = c.logits.expert.size(1);
  const int64_t es = static_cast<int64_t>(c.logits.expert.element_size());
  const int64_t pair_bytes = 2 * n * v * es;  // select/targets read both; the loss reads and writes N*V
  Case* p = &c;
  const std::string d = "/" + c.dtype_name + "/";
  register_pair("select" + d + "unsharded", pair_bytes, n, 0,
                [p] { lr_select(p->logits.expert, p->logits.amateur, 0.4f, p->kl, p->keep); });
  register_pair("targets_k8" + d + "unsharded", pair_bytes, n, 0,
                [p] { lr_targets(p->logits.expert, p->logits.amateur, kBeta, p->targets); });
  register_pair("stage1_k8" + d + "unsharded", pair_bytes, n, 0, [p] {
    lr_fused(p->logits.expert, p->logits.amateur, 0.4f, kBeta, p->kl, p->keep, p->targets);
  });
  register_pair("loss_backward" + d + "unsharded", pair_bytes, n, 0, [p] {
    lr_loss(p->logits.expert, p->loss_targets.ids, p->loss_targets.weights, p->loss, p->grad);
  });
  for (auto& sp : c.sharded) {
    ShardedCase* s = sp.get();
    const std::string w = "shards:" + std::to_string(s->shards);
    const double sel_b = 8.0 * LR_SHARD_SELECT_STATS * double(s->shards);
    const double cand_b = 4.0 * LR_SHARD_CANDIDATES(kK) * double(s->shards);
    const double loss_b = 8.0 * LR_SHARD_LOSS_STATS * double(s->shards);
    register_pair("select" + d + w, pair_bytes, n, sel_b, [s, v] { sharded_select(*s, v); });
    register_pair("targets_k8" + d + w, pair_bytes, n, cand_b, [s, v] { sharded_targets(*s, v); });
    register_pair("stage1_k8" + d + w, pair_bytes, n, sel_b + cand_b, [s, v] { sharded_stage1(*s, v); });
    register_pair("loss_backward" + d + w, pair_bytes, n, loss_b,
                  [s, p, v] { sharded_loss(*s, p->loss_targets, v); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  int64_t rows = 256, vocab = 151936;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--lr_rows=", 0) == 0) rows = std::atoll(a.c_str() + 10);
    else if (a.rfind("--lr_vocab=", 0) == 0) vocab = std::atoll(a.c_str() + 11);
    else if (a == "--lr_device=cuda") g_device = at::Device(at::kCUDA);
    else if (a == "--lr_device=cpu") g_device = at::Device(at::kCPU);
    else {
      std::cerr << "lr_bench_shard_cpu: unknown flag " << a << "\n";
      return 2;
    }
  }
  const uint32_t abi = lr_abi_version();
  std::cout << "lightreasoner ABI " << (abi >> 16) << "." << (abi & 0xffff) << ": " << lr_build_info()
            << "\nN=" << rows << " V=" << vocab << " K=" << kK << " device=" << g_device << "\n";
  benchmark::AddCustomContext("lr_build_info", lr_build_info());

  std::vector<std::unique_ptr<Case>> cases;
  const std::pair<at::ScalarType, const char*> dtypes[] = {{at::kFloat, "f32"}, {at::kBFloat16, "bf16"}};
  bool ok = true;
  for (const auto& [dtype, name] : dtypes) {
    auto c = std::make_unique<Case>();
    c->dtype_name = name;
    c->logits = make_logits(rows, vocab, dtype, /*seed=*/20250101);
    c->logits.expert = c->logits.expert.to(g_device);
    c->logits.amateur = c->logits.amateur.to(g_device);
    c->loss_targets = torch_targets(c->logits.expert, c->logits.amateur, kK, kBeta);
    c->kl = at::zeros({rows}, on_device(at::kFloat));
    c->keep = at::zeros({rows}, on_device(at::kByte));
    c->loss = at::zeros({1}, on_device(at::kFloat));
    c->grad = at::zeros_like(c->logits.expert);
    c->targets = targets_on_device(rows, kK);
    for (int64_t w : {1, 2, 4}) {
      c->sharded.push_back(make_sharded(*c, w));
      ok &= agrees(*c, *c->sharded.back());
    }
    cases.push_back(std::move(c));
  }
  if (!ok) {
    std::cerr << "lr_bench_shard_cpu: sharded and unsharded results differ; not timing different math\n";
    return 1;
  }
  for (auto& c : cases) register_case(*c);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
