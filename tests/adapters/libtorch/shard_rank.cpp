// One rank of the sharded-ops test (test_sharded_ranks.py starts 2, 3 and 4 of
// them with torchrun's variables on a free loopback port). The ranks join a
// Gloo group; each builds the same full logits from one seed, keeps its own
// uneven contiguous vocabulary shard (kPartitions: one-column, empty, and
// past-the-shared-vocabulary shards among them), and checks
// sharded_select_and_build / sharded_distill_loss against the unsharded
// adapter ops on the full logits:
// - keep, rows, target ids and support sizes identical; KL, weights and the
//   loss within 1e-5 (absolute, plus 1e-5 relative for KL); the loss
//   bit-identical on every rank (gathered over the group);
// - the gradient loss.backward() leaves on the shard equals the matching
//   columns of the unsharded gradient within 1e-5, for each reduction, a
//   temperature, per-row grad_outputs, a shard that is a row-strided view,
//   and the gradient written in place over the shard.
// The data have a NaN row, an amateur -Inf under the expert's argmax (KL
// +Inf), and rows whose support is truncated to K (checked to occur).
#include <gtest/gtest.h>
#include <lightreasoner/torch.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace lt = lr::torch_adapter;

constexpr int64_t kRows = 16, kExpertVocab = 203, kAmateurVocab = 197, kK = 4;
constexpr int64_t kFaultRow = 5, kInfRow = 9;
constexpr double kTol = 1e-5;

// Shard boundaries over [0, kExpertVocab) per world size; rank r holds [b[r], b[r + 1]).
std::vector<int64_t> boundaries(int world) {
  switch (world) {
    case 2: return {0, 150, 203};          // the amateur's last shard is narrower (197)
    case 3: return {0, 1, 197, 203};       // a one-column shard; one wholly past S = 197
    case 4: return {0, 60, 60, 170, 203};  // an empty shard
  }
  throw std::runtime_error("no partition for world size " + std::to_string(world));
}

struct Job {
  int rank = 0, world = 1;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  int64_t v0 = 0, v1 = 0;  // this rank's columns
};
Job g_job;

int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v) throw std::runtime_error(std::string(name) + " is not set");
  return std::stoi(v);
}

void join() {
  g_job.rank = env_int("RANK");
  g_job.world = env_int("WORLD_SIZE");
  const char* addr = std::getenv("MASTER_ADDR");
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(env_int("MASTER_PORT"));
  so.isServer = g_job.rank == 0;
  so.waitWorkers = false;
  so.timeout = std::chrono::seconds(30);
  auto store = c10::make_intrusive<c10d::TCPStore>(addr ? addr : "127.0.0.1", so);
  auto go = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(30));
  go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  g_job.group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, g_job.rank, g_job.world, go);
  const std::vector<int64_t> b = boundaries(g_job.world);
  g_job.v0 = b[static_cast<size_t>(g_job.rank)];
  g_job.v1 = b[static_cast<size_t>(g_job.rank) + 1];
}

// The same full logits on every rank.
struct Full {
  at::Tensor expert, amateur;
};

Full full_logits(at::ScalarType dtype) {
  torch::manual_seed(1234);
  at::Tensor e = 3.0 * torch::randn({kRows, kExpertVocab});
  at::Tensor a = e.narrow(1, 0, kAmateurVocab) * 0.5 + 2.0 * torch::randn({kRows, kAmateurVocab});
  // Rows 0-3: a sharp expert (support of 1 or 2) so that some rows are
  // short; the others are flat enough to be truncated to K.
  e.narrow(0, 0, 4).mul_(4.0);
  e[kFaultRow][180] = std::numeric_limits<float>::quiet_NaN();  // faults the row, from the shard holding 180
  const int64_t top = e[kInfRow].narrow(0, 0, kAmateurVocab).argmax().item<int64_t>();
  a[kInfRow][top] = -std::numeric_limits<float>::infinity();  // KL +Inf
  return {e.to(dtype).contiguous(), a.to(dtype).contiguous()};
}

// This rank's shards: the same start; the amateur's ends at its width (no
// boundary lies past kAmateurVocab: a shard's start must be within both models).
at::Tensor expert_shard(const Full& f) { return f.expert.narrow(1, g_job.v0, g_job.v1 - g_job.v0); }
at::Tensor amateur_shard(const Full& f) {
  return f.amateur.narrow(1, g_job.v0, std::min(g_job.v1, kAmateurVocab) - g_job.v0);
}

lt::VocabShard placement() { return {g_job.v0, kExpertVocab, kAmateurVocab}; }

// Values equal within atol + rtol |ref|, NaN where NaN, +-Inf where +-Inf.
void expect_close(const at::Tensor& got, const at::Tensor& ref, double rtol, const char* what) {
  const at::Tensor g = got.to(torch::kDouble), r = ref.to(torch::kDouble);
  ASSERT_EQ(g.sizes(), r.sizes()) << what;
  EXPECT_TRUE(torch::equal(g.isnan(), r.isnan())) << what << ": NaN at other places\n" << g << "\n" << r;
  EXPECT_TRUE(torch::equal(g.isinf(), r.isinf()) && torch::equal(g.isinf() & (g > 0), r.isinf() & (r > 0)))
      << what << ": Inf at other places";
  const at::Tensor finite = r.isfinite();
  const at::Tensor err = (g - r).abs().masked_select(finite);
  const at::Tensor bound = (kTol + rtol * r.abs()).masked_select(finite);
  EXPECT_TRUE((err <= bound).all().item<bool>()) << what << ": max |got - ref| = " << err.max().item<double>();
}

void expect_same_targets(const lt::TargetResult& got, const lt::TargetResult& ref) {
  EXPECT_TRUE(torch::equal(got.ids, ref.ids)) << "ids\n" << got.ids << "\n" << ref.ids;
  EXPECT_TRUE(torch::equal(got.support_size, ref.support_size)) << got.support_size << "\n" << ref.support_size;
  expect_close(got.weights, ref.weights, 0.0, "weights");
}

// The kappa between the two middle finite KL values: no row lies near it.
float middle_kappa(const at::Tensor& kl) {
  const at::Tensor finite = std::get<0>(kl.masked_select(kl.isfinite()).sort());
  const int64_t mid = finite.size(0) / 2;
  const float lo = finite[mid - 1].item<float>(), hi = finite[mid].item<float>();
  EXPECT_GT(hi - lo, 1e-3f) << "test data: the middle KL values are too close for an unambiguous keep";
  return 0.5f * (lo + hi);
}

TEST(ShardedSelectAndBuild, KeptRowsEqualUnshardedFloat32) {
  const Full f = full_logits(torch::kFloat);
  lt::SelectOptions so;
  so.kl_threshold = middle_kappa(lt::select_steps(f.expert, f.amateur, so).kl);
  lt::TargetOptions to;
  to.k = kK;
  const lt::SelectResult ref_sel = lt::select_steps(f.expert, f.amateur, so);
  const lt::ShardedStage1Result got =
      lt::sharded_select_and_build(expert_shard(f), amateur_shard(f), *g_job.group, placement(), so, to);
  expect_close(got.select.kl, ref_sel.kl, kTol, "kl");
  EXPECT_TRUE(torch::equal(got.select.keep, ref_sel.keep)) << got.select.keep << "\n" << ref_sel.keep;
  const at::Tensor ref_rows = ref_sel.keep.nonzero().squeeze(1);
  ASSERT_TRUE(torch::equal(got.rows, ref_rows)) << got.rows << "\n" << ref_rows;
  EXPECT_TRUE(std::isinf(ref_sel.kl[kInfRow].item<float>()) && std::isnan(ref_sel.kl[kFaultRow].item<float>()));
  expect_same_targets(got.targets, lt::build_targets(f.expert, f.amateur, ref_rows, to));
}

TEST(ShardedSelectAndBuild, AllRowsEqualUnshardedBFloat16Temperature) {
  const Full f = full_logits(torch::kBFloat16);
  lt::SelectOptions so;
  so.temperature = 1.5f;
  lt::TargetOptions to;
  to.k = kK;
  to.temperature = 1.5f;
  to.beta = 0.1f;
  const lt::ShardedStage1Result got = lt::sharded_select_and_build(expert_shard(f), amateur_shard(f), *g_job.group,
                                                                   placement(), so, to, lt::TargetRows::All);
  const lt::SelectResult ref_sel = lt::select_steps(f.expert, f.amateur, so);
  expect_close(got.select.kl, ref_sel.kl, kTol, "kl");
  EXPECT_TRUE(torch::equal(got.select.keep, ref_sel.keep));
  EXPECT_TRUE(torch::equal(got.rows, torch::arange(kRows)));
  const lt::TargetResult ref = lt::build_targets(f.expert, f.amateur, std::nullopt, to);
  expect_same_targets(got.targets, ref);
  // The data exercise what they should: truncation to K, a faulted row, short rows.
  EXPECT_TRUE((ref.support_size > kK).any().item<bool>());
  EXPECT_EQ(ref.support_size[kFaultRow].item<int>(), -1);
  EXPECT_TRUE(((ref.support_size >= 1) & (ref.support_size < kK)).any().item<bool>());
}

// Stage 2: targets from the unsharded op (row kFaultRow is all padding).
struct LossCase {
  lt::Reduction reduction;
  float temperature;
};

class ShardedDistillLoss : public ::testing::TestWithParam<LossCase> {};

TEST_P(ShardedDistillLoss, LossAndShardGradientEqualUnsharded) {
  const Full f = full_logits(torch::kFloat);
  lt::TargetOptions to;
  to.k = kK;
  const lt::TargetResult t = lt::build_targets(f.expert, f.amateur, std::nullopt, to);
  lt::LossOptions lo;
  lo.reduction = GetParam().reduction;
  lo.temperature = GetParam().temperature;
  torch::manual_seed(99);
  const at::Tensor z = 2.0 * torch::randn({kRows, kExpertVocab});
  const bool per_row = lo.reduction == lt::Reduction::None;
  const at::Tensor grad_out = per_row ? torch::rand({kRows}) + 0.5 : torch::full({}, 0.75);

  const at::Tensor z_ref = z.clone().requires_grad_(true);
  const at::Tensor ref = lt::distill_loss(z_ref, t.ids, t.weights, lo);
  ref.backward(grad_out);
  const int64_t width = g_job.v1 - g_job.v0;
  const at::Tensor ref_grad = z_ref.grad().narrow(1, g_job.v0, width);

  // The shard as a leaf of its own.
  const at::Tensor shard = z.narrow(1, g_job.v0, width).clone().requires_grad_(true);
  const at::Tensor loss = lt::sharded_distill_loss(shard, t.ids, t.weights, *g_job.group, g_job.v0, kExpertVocab, lo);
  expect_close(loss, ref, 0.0, "loss");
  loss.backward(grad_out);
  expect_close(shard.grad(), ref_grad, 0.0, "shard gradient");

  // The loss is bit-identical on every rank.
  std::vector<at::Tensor> all(static_cast<size_t>(g_job.world));
  for (auto& x : all) x = torch::empty_like(loss.detach()).reshape(-1);
  std::vector<std::vector<at::Tensor>> out{all};
  std::vector<at::Tensor> in{loss.detach().reshape(-1).contiguous()};
  g_job.group->allgather(out, in)->wait();
  for (const at::Tensor& x : out[0]) EXPECT_TRUE(torch::equal(x, in[0])) << "the loss differs between ranks";

  // The shard as a row-strided view of the full logits (a leaf): gradient
  // lands in its columns only.
  const at::Tensor leaf = z.clone().requires_grad_(true);
  const at::Tensor view = leaf.narrow(1, g_job.v0, width);
  lt::sharded_distill_loss(view, t.ids, t.weights, *g_job.group, g_job.v0, kExpertVocab, lo).backward(grad_out);
  expect_close(leaf.grad().narrow(1, g_job.v0, width), ref_grad, 0.0, "view gradient");
  at::Tensor outside = leaf.grad().clone();
  outside.narrow(1, g_job.v0, width).zero_();
  EXPECT_EQ(outside.abs().sum().item<double>(), 0.0) << "gradient outside the shard's columns";

  // In place: the shard (an intermediate, as a model's output is) ends up
  // holding its gradient, and the leaf above it gets the same gradient.
  const at::Tensor leaf2 = z.clone().requires_grad_(true);
  const at::Tensor shard2 = leaf2.narrow(1, g_job.v0, width).clone();
  lt::LossOptions in_place = lo;
  in_place.inplace = true;
  lt::sharded_distill_loss(shard2, t.ids, t.weights, *g_job.group, g_job.v0, kExpertVocab, in_place).backward(grad_out);
  expect_close(leaf2.grad().narrow(1, g_job.v0, width), ref_grad, 0.0, "in-place gradient");
  expect_close(shard2.detach(), ref_grad, 0.0, "the shard overwritten by its gradient");

  // Without grad mode: the same loss, no gradient computed.
  torch::NoGradGuard no_grad;
  expect_close(lt::sharded_distill_loss(shard, t.ids, t.weights, *g_job.group, g_job.v0, kExpertVocab, lo), ref, 0.0,
               "loss without grad");
}

// A bad placement fails on every rank before any collective: a c10::Error
// naming the argument, and the group stays in step (the next call works).
TEST(ShardedErrors, BadPlacementIsAC10ErrorBeforeTheCollective) {
  const Full f = full_logits(torch::kFloat);
  lt::VocabShard bad = placement();
  bad.column_offset = -1;
  try {
    lt::sharded_select_and_build(expert_shard(f), amateur_shard(f), *g_job.group, bad);
    ADD_FAILURE() << "no error for column_offset -1";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("column_offset"), std::string::npos) << e.what();
  }
  const at::Tensor ids = torch::full({kRows, 1}, -1, torch::kInt), w = torch::zeros({kRows, 1});
  const at::Tensor z = expert_shard(f);
  EXPECT_THROW(lt::sharded_distill_loss(z, ids, w, *g_job.group, g_job.v0, g_job.v1 - 1), c10::Error);
  lt::TargetOptions k0;
  k0.k = 0;
  EXPECT_THROW(lt::sharded_select_and_build(expert_shard(f), amateur_shard(f), *g_job.group, placement(), {}, k0),
               c10::Error);
  lt::TargetOptions hot;
  hot.temperature = 2.0f;
  EXPECT_THROW(lt::sharded_select_and_build(expert_shard(f), amateur_shard(f), *g_job.group, placement(), {}, hot),
               c10::Error);
  const at::Tensor loss = lt::sharded_distill_loss(z, ids, w, *g_job.group, g_job.v0, kExpertVocab);
  EXPECT_EQ(loss.item<float>(), 0.0f);  // all rows padding: loss 0 (MEAN with no counted row)
}

INSTANTIATE_TEST_SUITE_P(Reductions, ShardedDistillLoss,
                         ::testing::Values(LossCase{lt::Reduction::Mean, 1.0f}, LossCase{lt::Reduction::Sum, 1.0f},
                                           LossCase{lt::Reduction::None, 1.0f},
                                           LossCase{lt::Reduction::Mean, 2.0f}));

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  join();
  return RUN_ALL_TESTS();
}
