// The LibTorch Qwen2 against qwen2_reference.py (float64, from the equations,
// one unpadded sequence at a time), on tiny random checkpoints written by
// write_tiny_qwen2: logits at chosen positions of left- and right-padded
// batches, greedy generation token for token, KV cache == recompute, sampling
// reproducibility, stop ids.
//
// Environment: LR_PYTHON (interpreter with torch + numpy), LR_QWEN2_REFERENCE
// (the script), LR_MODEL_TEST_SCRATCH (a writable folder) override the paths
// compiled in.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/tiny_model.h"
#include "model/generate.h"
#include "model/qwen2_model.h"
#include "model/sampling.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using lr::driver::GenerateOptions;
using lr::driver::Qwen2Model;
using Ids = std::vector<std::vector<int64_t>>;

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? v : fallback;
}
std::string python() { return env_or("LR_PYTHON", LR_TEST_PYTHON); }
std::string reference_script() { return env_or("LR_QWEN2_REFERENCE", LR_QWEN2_REFERENCE); }
fs::path scratch() { return env_or("LR_MODEL_TEST_SCRATCH", LR_MODEL_TEST_SCRATCH); }

std::string test_name() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string n = std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : n)
    if (c == '/') c = '_';
  return n;
}

struct Tiny {
  std::string name;
  int64_t heads, kv_heads;
  bool tied;
  int shards;
};
void PrintTo(const Tiny& t, std::ostream* os) { *os << t.name; }

// A checkpoint under scratch()/checkpoints/<test>/<name>: a folder per test,
// so tests run as parallel processes (ctest -j) never write the same files.
std::string checkpoint(const Tiny& t) {
  static std::mutex mu;
  static std::map<std::string, std::string> made;
  std::lock_guard<std::mutex> lock(mu);
  const std::string dir = (scratch() / "checkpoints" / test_name() / t.name).string();
  if (auto it = made.find(dir); it != made.end()) return it->second;
  lr::driver::TinyModelOptions o;
  o.out_dir = dir;
  o.layers = 2;
  o.hidden = 64;
  o.heads = t.heads;
  o.kv_heads = t.kv_heads;
  o.intermediate = 96;
  o.vocab = 512;
  o.seed = 1234 + static_cast<uint64_t>(t.heads * 10 + t.kv_heads + (t.tied ? 100 : 0));
  o.tie_word_embeddings = t.tied;
  o.shards = t.shards;
  o.init_std = 0.15;  // sharper attention than 0.02, so positions matter
  lr::driver::write_tiny_qwen2(o);
  made[dir] = o.out_dir;
  return o.out_dir;
}

const Tiny kGqa2Untied{"gqa2_untied", 4, 2, false, 1};

// Runs the reference on `request`; returns result.json, and the logits when asked.
json run_reference(json request, torch::Tensor* logits = nullptr) {
  const fs::path dir = scratch() / "reference" / test_name();
  fs::create_directories(dir);
  const fs::path req = dir / "request.json";
  std::ofstream(req) << request.dump();
  const std::string cmd = "'" + python() + "' '" + reference_script() + "' '" + req.string() + "' '" +
                          dir.string() + "' > '" + (dir / "log.txt").string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::ifstream log(dir / "log.txt");
    std::stringstream ss;
    ss << log.rdbuf();
    ADD_FAILURE() << "reference failed (" << rc << "): " << cmd << "\n" << ss.str();
    return json();
  }
  json result = json::parse(std::ifstream(dir / "result.json"));
  if (logits) {
    std::vector<int64_t> shape = result.at("logits_shape").get<std::vector<int64_t>>();
    auto t = torch::empty(shape, torch::kFloat64);
    std::ifstream in(dir / "logits.f64", std::ios::binary);
    in.read(reinterpret_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * 8));
    EXPECT_TRUE(in.good()) << "short logits file";
    *logits = t;
  }
  return result;
}

torch::Tensor to_tensor2d(const Ids& rows) {
  const int64_t B = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(rows[0].size());
  auto t = torch::empty({B, T}, torch::kLong);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < T; ++j) t[b][j] = rows[static_cast<size_t>(b)][static_cast<size_t>(j)];
  return t;
}

Ids random_prompts(const std::vector<int64_t>& lengths, int64_t vocab, uint64_t seed) {
  torch::manual_seed(seed);
  Ids out;
  for (int64_t n : lengths) {
    auto t = torch::randint(vocab, {n}, torch::kLong);
    out.emplace_back(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + n);
  }
  return out;
}

// A batch of three rows of width 12: right-padded (9 real), full, left-padded (7 real).
struct PaddedBatch {
  Ids ids, mask, positions;
};
PaddedBatch padded_batch(int64_t vocab) {
  Ids real = random_prompts({9, 12, 7}, vocab, 99);
  PaddedBatch b;
  const int64_t pad = 3;  // any id: masked
  std::vector<int64_t> r0 = real[0], m0(9, 1);
  r0.resize(12, pad);
  m0.resize(12, 0);
  std::vector<int64_t> r2(5, pad), m2(5, 0);
  r2.insert(r2.end(), real[2].begin(), real[2].end());
  m2.resize(12, 1);
  b.ids = {r0, real[1], r2};
  b.mask = {m0, std::vector<int64_t>(12, 1), m2};
  b.positions = {{0, 3, 7, 8}, {0, 5, 10, 11}, {5, 6, 9, 11}};
  return b;
}

class ModelVsReference : public ::testing::TestWithParam<Tiny> {};

TEST_P(ModelVsReference, LogitsAndGreedyMatch) {
  const Tiny& tiny = GetParam();
  const std::string dir = checkpoint(tiny);
  const Qwen2Model model = Qwen2Model::load(dir);
  EXPECT_EQ(model.tied_lm_head(), tiny.tied);
  const int64_t V = model.config().vocab_size;
  const PaddedBatch batch = padded_batch(V);
  const Ids prompts = random_prompts({5, 13, 9}, V, 7);
  const int64_t new_tokens = 16;

  json request = {{"checkpoint", dir},
                  {"logits", {{"input_ids", batch.ids}, {"attention_mask", batch.mask}, {"positions", batch.positions}}},
                  {"greedy", {{"prompts", prompts}, {"max_new_tokens", new_tokens}}}};
  torch::Tensor ref_logits;
  const json ref = run_reference(request, &ref_logits);
  ASSERT_TRUE(ref_logits.defined());

  torch::NoGradGuard no_grad;
  auto logits = model.logits_at(to_tensor2d(batch.ids), to_tensor2d(batch.mask), to_tensor2d(batch.positions));
  ASSERT_EQ(logits.scalar_type(), torch::kFloat);
  ASSERT_EQ(logits.sizes(), ref_logits.sizes());
  const double diff = (logits.to(torch::kFloat64) - ref_logits).abs().max().item<double>();
  const double scale = ref_logits.abs().max().item<double>();
  std::cout << "[ " << tiny.name << " ] logits max abs diff " << diff << " (max |logit| " << scale << ")\n";
  EXPECT_LT(diff, 1e-4);
  EXPECT_GT(scale, 0.5);  // the check is not vacuous

  GenerateOptions opt;
  opt.max_new_tokens = new_tokens;
  opt.batch_size = 3;
  const Ids ours = lr::driver::generate(model, prompts, opt);
  const Ids expected = ref.at("greedy").get<Ids>();
  EXPECT_EQ(ours, expected);
  for (const auto& row : ours) EXPECT_EQ(static_cast<int64_t>(row.size()), new_tokens);
}

INSTANTIATE_TEST_SUITE_P(Tiny, ModelVsReference,
                         ::testing::Values(Tiny{"gqa1_tied", 4, 4, true, 1}, Tiny{"gqa1_untied", 4, 4, false, 1},
                                           Tiny{"gqa2_tied", 4, 2, true, 1}, kGqa2Untied,
                                           Tiny{"gqa4_untied_sharded", 4, 1, false, 3}),
                         [](const ::testing::TestParamInfo<Tiny>& param_info) { return param_info.param.name; });

TEST(Qwen2Model, PaddingDoesNotChangeLogits) {
  const Qwen2Model model = Qwen2Model::load(checkpoint(kGqa2Untied));
  torch::NoGradGuard no_grad;
  const PaddedBatch batch = padded_batch(model.config().vocab_size);
  auto padded = model.logits_at(to_tensor2d(batch.ids), to_tensor2d(batch.mask), to_tensor2d(batch.positions));
  // Row 2 alone, unpadded: its real tokens are columns 5..11.
  auto ids = to_tensor2d(batch.ids).narrow(0, 2, 1).narrow(1, 5, 7);
  auto alone = model.logits_at(ids, torch::Tensor(), torch::tensor({{0, 1, 4, 6}}, torch::kLong));
  EXPECT_LT((alone[0] - padded[2]).abs().max().item<double>(), 1e-5);
}

TEST(Qwen2Model, PositionIdsFromMask) {
  auto mask = torch::tensor({{0, 0, 1, 1, 1}, {1, 1, 1, 0, 0}, {1, 1, 1, 1, 1}}, torch::kLong);
  auto pos = lr::driver::position_ids_from_mask(mask);
  auto want = torch::tensor({{1, 1, 0, 1, 2}, {0, 1, 2, 1, 1}, {0, 1, 2, 3, 4}}, torch::kLong);
  EXPECT_TRUE(torch::equal(pos, want)) << pos;
}

TEST(Qwen2Model, CacheInChunksEqualsOneForward) {
  const Qwen2Model model = Qwen2Model::load(checkpoint(kGqa2Untied));
  torch::NoGradGuard no_grad;
  const PaddedBatch batch = padded_batch(model.config().vocab_size);
  // Left-padded row 2 and the full row 1, fed 12 = 5 + 4 + 3 tokens at a time.
  auto ids = to_tensor2d(batch.ids).narrow(0, 1, 2);
  auto mask = to_tensor2d(batch.mask).narrow(0, 1, 2);
  auto full = model.hidden_states(ids, mask, torch::Tensor());
  auto cache = model.make_cache(2, 12);
  std::vector<torch::Tensor> parts;
  int64_t at = 0;
  for (int64_t n : {5, 4, 3}) {
    parts.push_back(model.hidden_states(ids.narrow(1, at, n), mask.narrow(1, 0, at + n), torch::Tensor(), &cache));
    at += n;
  }
  EXPECT_EQ(cache.length(), 12);
  auto chunked = torch::cat(parts, 1);
  // Row 1 (left-padded) only at its real columns; pad columns are arbitrary.
  EXPECT_LT((chunked[0] - full[0]).abs().max().item<double>(), 1e-5);
  EXPECT_LT((chunked[1].narrow(0, 5, 7) - full[1].narrow(0, 5, 7)).abs().max().item<double>(), 1e-5);
  EXPECT_THROW(model.hidden_states(ids.narrow(1, 0, 1), mask, torch::Tensor(), &cache), std::exception);
}

TEST(Generate, CacheEqualsRecompute) {
  const Qwen2Model model = Qwen2Model::load(checkpoint(kGqa2Untied));
  const Ids prompts = random_prompts({3, 11, 6, 8, 1}, model.config().vocab_size, 5);
  GenerateOptions opt;
  opt.max_new_tokens = 20;
  opt.batch_size = 3;
  EXPECT_EQ(lr::driver::generate(model, prompts, opt), lr::driver::generate_no_cache(model, prompts, opt));
  opt.greedy = false;
  opt.temperature = 0.8;
  opt.top_p = 0.9;
  opt.seed = 42;
  EXPECT_EQ(lr::driver::generate(model, prompts, opt), lr::driver::generate_no_cache(model, prompts, opt));
}

TEST(Generate, BatchingAndOrderDoNotChangeGreedy) {
  const Qwen2Model model = Qwen2Model::load(checkpoint(kGqa2Untied));
  const Ids prompts = random_prompts({3, 11, 6, 8, 1}, model.config().vocab_size, 6);
  GenerateOptions opt;
  opt.max_new_tokens = 12;
  opt.batch_size = 1;
  const Ids one = lr::driver::generate(model, prompts, opt);
  opt.batch_size = 5;
  EXPECT_EQ(lr::driver::generate(model, prompts, opt), one);
  opt.batch_size = 2;
  opt.sort_by_length = true;
  std::vector<std::pair<int64_t, int64_t>> progress;
  opt.on_progress = [&](int64_t done, int64_t total) { progress.emplace_back(done, total); };
  EXPECT_EQ(lr::driver::generate(model, prompts, opt), one);
  const std::vector<std::pair<int64_t, int64_t>> want{{2, 5}, {4, 5}, {5, 5}};
  EXPECT_EQ(progress, want);
}

TEST(Generate, SamplingIsReproducible) {
  const Qwen2Model model = Qwen2Model::load(checkpoint(kGqa2Untied));
  const Ids prompts = random_prompts({4, 9, 7}, model.config().vocab_size, 8);
  GenerateOptions opt;
  opt.max_new_tokens = 16;
  opt.greedy = false;
  opt.temperature = 1.0;
  opt.top_p = 0.95;
  opt.seed = 7;
  const Ids a = lr::driver::generate(model, prompts, opt);
  EXPECT_EQ(lr::driver::generate(model, prompts, opt), a);
  // A prompt's draws depend on its index, not on its batch mates.
  opt.batch_size = 1;
  EXPECT_EQ(lr::driver::generate(model, prompts, opt), a);
  opt.seed = 8;
  EXPECT_NE(lr::driver::generate(model, prompts, opt), a);
  // top_p = 0 keeps only the most likely token: greedy.
  opt.top_p = 0.0;
  opt.temperature = 0.7;
  GenerateOptions greedy;
  greedy.max_new_tokens = 16;
  EXPECT_EQ(lr::driver::generate(model, prompts, opt), lr::driver::generate(model, prompts, greedy));
}

TEST(Generate, SamplingFollowsTheDistribution) {
  // choose_tokens against known probabilities: with uniforms on a fine grid the
  // frequencies equal the (top-p truncated, renormalised) probabilities.
  auto logits = torch::log(torch::tensor({0.1, 0.5, 0.15, 0.25}, torch::kFloat)).unsqueeze(0).repeat({1000, 1});
  auto u = (torch::arange(1000, torch::kFloat) + 0.5) / 1000;
  lr::driver::SamplingParams p;
  p.greedy = false;
  auto counts = torch::bincount(lr::driver::choose_tokens(logits, p, u), {}, 4);
  EXPECT_TRUE(torch::equal(counts, torch::tensor({100, 500, 150, 250}, torch::kLong))) << counts;
  p.top_p = 0.7;  // keeps 0.5 and 0.25 (0.5 alone is below 0.7): 2/3 and 1/3
  counts = torch::bincount(lr::driver::choose_tokens(logits, p, u), {}, 4);
  EXPECT_TRUE(torch::equal(counts, torch::tensor({0, 667, 0, 333}, torch::kLong))) << counts;
  p.temperature = 1e-3;  // cold: argmax
  counts = torch::bincount(lr::driver::choose_tokens(logits, p, u), {}, 4);
  EXPECT_EQ(counts[1].item<int64_t>(), 1000);
}

TEST(Generate, StopIdsEndSequencesEarly) {
  const Qwen2Model model = Qwen2Model::load(checkpoint(kGqa2Untied));
  const Ids prompts = random_prompts({5, 8, 3}, model.config().vocab_size, 9);
  GenerateOptions opt;
  opt.max_new_tokens = 16;
  const Ids full = lr::driver::generate(model, prompts, opt);
  // A token that some row first produces at a step k >= 3.
  size_t row = 0, k = 0;
  bool found = false;
  for (size_t r = 0; r < full.size() && !found; ++r)
    for (size_t j = 3; j < full[r].size() && !found; ++j)
      if (std::find(full[r].begin(), full[r].begin() + static_cast<long>(j), full[r][j]) ==
          full[r].begin() + static_cast<long>(j)) {
        row = r;
        k = j;
        found = true;
      }
  ASSERT_TRUE(found) << "every row repeats itself";
  const int64_t stop = full[row][k];
  opt.stop_ids = {stop, 100000};
  const Ids stopped = lr::driver::generate(model, prompts, opt);
  ASSERT_EQ(stopped[row].size(), k + 1);
  EXPECT_EQ(stopped[row].back(), stop);
  for (size_t r = 0; r < prompts.size(); ++r) {  // every row: cut at its own first stop, if any
    auto it = std::find(full[r].begin(), full[r].end(), stop);
    const Ids::value_type want(full[r].begin(), it == full[r].end() ? it : it + 1);
    EXPECT_EQ(stopped[r], want) << "row " << r;
  }
  opt.max_new_tokens = 0;
  EXPECT_EQ(lr::driver::generate(model, prompts, opt), Ids(3));
}

TEST(Generate, RejectsBadInput) {
  const Qwen2Model model = Qwen2Model::load(checkpoint(kGqa2Untied));
  GenerateOptions opt;
  EXPECT_THROW(lr::driver::generate(model, {{1, 2}, {}}, opt), std::invalid_argument);
  EXPECT_THROW(lr::driver::generate(model, {{1, 512}}, opt), std::invalid_argument);
  opt.greedy = false;
  opt.temperature = 0;
  EXPECT_THROW(lr::driver::generate(model, {{1, 2}}, opt), std::invalid_argument);
  auto ids = torch::ones({1, 4}, torch::kLong);
  EXPECT_THROW(model.logits_at(ids, torch::Tensor(), torch::tensor({{4}}, torch::kLong)), std::out_of_range);
}

TEST(Qwen2Model, Bf16IsCloseToFp32) {
  const std::string dir = checkpoint(kGqa2Untied);
  const Qwen2Model f32 = Qwen2Model::load(dir);
  const Qwen2Model b16 = Qwen2Model::load(dir, torch::kCPU, torch::kBFloat16);
  EXPECT_EQ(b16.dtype(), torch::kBFloat16);
  torch::NoGradGuard no_grad;
  const PaddedBatch batch = padded_batch(f32.config().vocab_size);
  auto a = f32.logits_at(to_tensor2d(batch.ids), to_tensor2d(batch.mask), to_tensor2d(batch.positions));
  auto b = b16.logits_at(to_tensor2d(batch.ids), to_tensor2d(batch.mask), to_tensor2d(batch.positions));
  const double diff = (a - b).abs().max().item<double>(), scale = a.abs().max().item<double>();
  std::cout << "bf16 vs fp32 logits max abs diff " << diff << " (max |logit| " << scale << ")\n";
  EXPECT_LT(diff, 0.05 * scale);
  GenerateOptions opt;
  opt.max_new_tokens = 8;
  const auto out = lr::driver::generate(b16, random_prompts({4, 6}, 512, 3), opt);
  EXPECT_EQ(out[0].size(), 8u);
}

TEST(Qwen2Model, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = checkpoint(kGqa2Untied);
  const Qwen2Model cpu = Qwen2Model::load(dir);
  const Qwen2Model gpu = Qwen2Model::load(dir, torch::kCUDA);
  torch::NoGradGuard no_grad;
  const PaddedBatch batch = padded_batch(cpu.config().vocab_size);
  auto a = cpu.logits_at(to_tensor2d(batch.ids), to_tensor2d(batch.mask), to_tensor2d(batch.positions));
  auto b = gpu.logits_at(to_tensor2d(batch.ids), to_tensor2d(batch.mask), to_tensor2d(batch.positions));
  EXPECT_TRUE(b.is_cuda());
  EXPECT_LT((a - b.cpu()).abs().max().item<double>(), 1e-3);  // TF32 may be on
  const Ids prompts = random_prompts({5, 13, 9}, 512, 7);
  GenerateOptions opt;
  opt.max_new_tokens = 16;
  EXPECT_EQ(lr::driver::generate(gpu, prompts, opt), lr::driver::generate(cpu, prompts, opt));
  opt.greedy = false;
  opt.seed = 3;
  EXPECT_EQ(lr::driver::generate(gpu, prompts, opt), lr::driver::generate(cpu, prompts, opt));
}

}  // namespace
