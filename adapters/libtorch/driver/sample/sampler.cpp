#include "sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include <torch/utils.h>

#include "ablation_targets.h"
#include "lightreasoner/torch.h"
#include "model/generate.h"
#include "model/sampling.h"
#include "io/json_files.h"
#include "prompt/chat_prompt.h"
#include "step_selection.h"
#include "supervision_store.h"

namespace lr::driver {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

void check_options(const SampleOptions& o) {
  if (o.max_new_tokens < 1) throw std::invalid_argument("sample: max_new_tokens must be >= 1");
  if (o.batch_size < 1) throw std::invalid_argument("sample: batch_size must be >= 1");
  if (o.k < 1) throw std::invalid_argument("sample: k must be >= 1");
  if (!(o.beta > 0.0f && o.beta <= 1.0f)) throw std::invalid_argument("sample: beta must be in (0, 1]");
  if (!std::isfinite(o.kl_threshold)) throw std::invalid_argument("sample: kl_threshold must be finite");
  if (!o.greedy && !(o.temperature > 0.0)) throw std::invalid_argument("sample: temperature must be > 0");
  if (!o.greedy && !(o.top_p >= 0.0 && o.top_p <= 1.0)) throw std::invalid_argument("sample: top_p must be in [0, 1]");
  if (!known_step_selection(o.selection))
    throw std::invalid_argument("sample: selection must be \"kl\", \"all\" or \"random\", not \"" + o.selection + "\"");
  if (!known_target_kind(o.targets))
    throw std::invalid_argument("sample: targets must be \"contrastive\", \"expert\" or \"argmax\", not \"" +
                                o.targets + "\"");
}

}  // namespace

json sample_settings(const SampleOptions& o, int64_t expert_vocab, int64_t amateur_vocab, int64_t tokenizer_vocab) {
  json s;
  s["max_new_tokens"] = o.max_new_tokens;
  s["greedy"] = o.greedy;
  s["temperature"] = o.greedy ? 1.0 : o.temperature;
  s["top_p"] = o.greedy ? 1.0 : o.top_p;
  s["seed"] = o.greedy ? uint64_t{0} : o.seed;
  s["batch_size"] = o.batch_size;  // padding changes floating-point reductions
  s["kl_threshold"] = o.kl_threshold;
  s["beta"] = o.beta;
  s["k"] = o.k;
  s["system_prompt"] = o.system_prompt;
  if (!o.prompt_template.empty()) s["prompt_template"] = o.prompt_template;  // absent: the default, as before
  // The ablations (step_selection.h, ablation_targets.h): absent = the paper's method, as before.
  if (o.selection != defaults::sample::selection) s["selection"] = o.selection;
  if (o.selection == "random") s["selection_seed"] = o.seed;  // the draws' seed, greedy or not
  if (o.targets != defaults::sample::targets) s["targets"] = o.targets;
  s["stop_ids"] = o.stop_ids;
  s["expert_vocab"] = expert_vocab;
  s["amateur_vocab"] = amateur_vocab;
  s["tokenizer_vocab"] = tokenizer_vocab;
  s["shared_vocab"] = std::min({expert_vocab, amateur_vocab, tokenizer_vocab});
  return s;
}

std::string stats_path_for(const std::string& out_path) {
  const std::string ext = ".jsonl";
  if (out_path.size() > ext.size() && out_path.compare(out_path.size() - ext.size(), ext.size(), ext) == 0)
    return out_path.substr(0, out_path.size() - ext.size()) + ".stats.json";
  return out_path + ".stats.json";
}

json SampleStats::to_json() const {
  json j;
  j["problems_total"] = problems_total;
  j["problems_this_call"] = problems_this_call;
  j["problems_already_done"] = problems_already_done;
  j["resume_truncated_bytes"] = resume_truncated_bytes;
  j["vocab"] = {{"expert", expert_vocab},
                {"amateur", amateur_vocab},
                {"tokenizer", tokenizer_vocab},
                {"shared", shared_vocab},
                {"expert_rows_dropped", expert_rows_dropped},
                {"amateur_rows_dropped", amateur_rows_dropped}};
  j["problems_done"] = problems_done;
  j["generated_tokens"] = generated_tokens;
  j["positions_scored"] = positions_scored;
  j["records"] = records;
  j["kept_fraction"] = kept_fraction;
  j["kl_faults"] = kl_faults;
  j["rollouts_cut_at_unshared"] = rollouts_cut_at_unshared;
  j["kl_histogram"] = {{"upper_edges", std::vector<double>(kKlBinEdges.begin(), kKlBinEdges.end())},
                       {"counts", kl_histogram}};
  json sh = json::object();
  for (const auto& [size, count] : support_histogram) sh[std::to_string(size)] = count;
  j["support_histogram"] = sh;
  j["single_token_labels"] = single_token_labels;
  j["single_token_fraction"] = single_token_fraction;
  j["truncated_supports"] = truncated_supports;
  j["mean_kept_kl"] = mean_kept_kl;
  return j;
}

SampleStats supervision_stats(const std::string& out_path, int64_t k) {
  const SupervisionFile f = read_supervision(out_path);
  SampleStats s;
  s.kl_histogram.assign(kKlBins, 0);
  s.problems_done = static_cast<int64_t>(f.problems.size());
  for (const ProblemDone& d : f.problems) {
    s.generated_tokens += d.generated;
    s.positions_scored += d.positions;
    s.kl_faults += d.kl_faults;
    s.rollouts_cut_at_unshared += d.cut_at_unshared ? 1 : 0;
    for (size_t i = 0; i < kKlBins; ++i) s.kl_histogram[i] += d.kl_histogram[i];
  }
  double kl_sum = 0;
  for (const SupervisionRecord& r : f.records) {
    ++s.support_histogram[r.support_size];
    if (r.support_size == 1) ++s.single_token_labels;
    if (r.support_size > k) ++s.truncated_supports;
    kl_sum += r.kl;
  }
  s.records = static_cast<int64_t>(f.records.size());
  s.kept_fraction = s.positions_scored > 0 ? static_cast<double>(s.records) / static_cast<double>(s.positions_scored) : 0.0;
  s.single_token_fraction = s.records > 0 ? static_cast<double>(s.single_token_labels) / static_cast<double>(s.records) : 0.0;
  s.mean_kept_kl = s.records > 0 ? kl_sum / static_cast<double>(s.records) : 0.0;
  return s;
}

namespace {

struct Vocab {
  int64_t expert = 0, amateur = 0, tokenizer = 0;
  int64_t shared = 0;      // min of the three: the ids that are real tokens of both models
  int64_t embeddable = 0;  // ids both models can take as input
};

Vocab vocab_of(const Qwen2Model& expert, const Qwen2Model& amateur, const Tokenizer& tokenizer) {
  Vocab v;
  v.expert = expert.config().vocab_size;
  v.amateur = amateur.config().vocab_size;
  v.tokenizer = tokenizer.vocab_size();
  v.shared = std::min({v.expert, v.amateur, v.tokenizer});
  v.embeddable = std::min(v.expert, v.amateur);
  if (v.shared < 1) throw std::invalid_argument("sample: no shared vocabulary");
  return v;
}

void check_unique_ids(const std::vector<Problem>& problems) {
  std::set<int64_t> ids;
  for (const Problem& p : problems)
    if (!ids.insert(p.id).second) throw std::invalid_argument("sample: problem id " + std::to_string(p.id) + " twice");
}

// 1. The prompt ids of problems [b0, b1), each encoded once.
std::vector<std::vector<int64_t>> encode_prompts(const Tokenizer& tokenizer, const std::vector<Problem>& problems,
                                                 int64_t b0, int64_t b1, const SampleOptions& o, int64_t embeddable) {
  std::vector<std::vector<int64_t>> prompts;
  prompts.reserve(static_cast<size_t>(b1 - b0));
  for (int64_t i = b0; i < b1; ++i) {
    const Problem& p = problems[static_cast<size_t>(i)];
    const std::vector<int32_t> ids =
        tokenizer.encode(o.prompt_template.empty() ? render_chat_prompt(o.system_prompt, p.question)
                                                   : render_prompt(o.prompt_template, o.system_prompt, p.question));
    std::vector<int64_t> v(ids.begin(), ids.end());
    for (int64_t id : v)
      if (id < 0 || id >= embeddable)
        throw std::invalid_argument("sample: problem " + std::to_string(p.id) + ": prompt id " + std::to_string(id) +
                                    " outside a model's vocabulary (" + std::to_string(embeddable) + ")");
    prompts.push_back(std::move(v));
  }
  return prompts;
}

// A batch's rollouts: prompt ids + generated ids, row by row.
struct Rollouts {
  std::vector<std::vector<int64_t>> prompts, ids;
  std::vector<int64_t> generated;  // generated ids per row
  std::vector<bool> cut;           // cut at an id outside the shared vocabulary
  int64_t max_input = 1, max_generated = 0;
  int64_t first_position(int64_t r) const { return static_cast<int64_t>(prompts[static_cast<size_t>(r)].size()) - 1; }
};

// 2. Expert rollouts; a rollout is cut right after a generated id outside the
// shared vocabulary (kept as the last target, never as input).
Rollouts roll_out(const Qwen2Model& expert, std::vector<std::vector<int64_t>> prompts, const SampleOptions& o,
                  int64_t batch, int64_t shared) {
  const int64_t nb = static_cast<int64_t>(prompts.size());
  GenerateOptions g;
  g.max_new_tokens = o.max_new_tokens;
  g.greedy = o.greedy;
  g.temperature = o.temperature;
  g.top_p = o.top_p;
  g.seed = splitmix64(o.seed ^ splitmix64(static_cast<uint64_t>(batch)));
  g.stop_ids = o.stop_ids;
  g.batch_size = nb;
  std::vector<std::vector<int64_t>> gens = generate(expert, prompts, g);
  Rollouts out;
  out.ids.resize(static_cast<size_t>(nb));
  out.generated.resize(static_cast<size_t>(nb));
  out.cut.assign(static_cast<size_t>(nb), false);
  for (size_t r = 0; r < size_t(nb); ++r) {
    auto& gen = gens[r];
    for (size_t j = 0; j < gen.size(); ++j)
      if (gen[j] < 0 || gen[j] >= shared) {
        gen.resize(j + 1);
        out.cut[r] = true;
        break;
      }
    out.ids[r] = prompts[r];
    out.ids[r].insert(out.ids[r].end(), gen.begin(), gen.end());
    out.generated[r] = static_cast<int64_t>(gen.size());
    out.max_input = std::max<int64_t>(out.max_input, static_cast<int64_t>(out.ids[r].size()) - 1);
    out.max_generated = std::max<int64_t>(out.max_generated, static_cast<int64_t>(gen.size()));
  }
  out.prompts = std::move(prompts);
  return out;
}

// Selection and targets of every generated position, on the CPU: row
// r * positions + j is position j of rollout r.
struct ScoredRows {
  at::Tensor kl, keep, ids, weights, support;
  int64_t positions = 1;
};

// Both models' logits at every generated position, cut to the shared
// vocabulary: [rollouts * P, shared] each, on the expert's device.
struct PositionLogits {
  at::Tensor expert, amateur;
};

// 3-4. One teacher-forced forward of each model over rollout[0 .. len-2]
// (the last id is only ever a target), P positions per rollout.
PositionLogits position_logits(const Qwen2Model& expert, const Qwen2Model& amateur, const Rollouts& ro,
                               const Vocab& v, int64_t P) {
  const int64_t nb = static_cast<int64_t>(ro.ids.size());
  at::Tensor ids = torch::zeros({nb, ro.max_input}, torch::kInt64);
  at::Tensor mask = torch::zeros({nb, ro.max_input}, torch::kInt64);
  at::Tensor pos = torch::zeros({nb, P}, torch::kInt64);
  auto ia = ids.accessor<int64_t, 2>();
  auto ma = mask.accessor<int64_t, 2>();
  auto pa = pos.accessor<int64_t, 2>();
  for (int64_t r = 0; r < nb; ++r) {
    const auto& row = ro.ids[static_cast<size_t>(r)];
    const int64_t len = static_cast<int64_t>(row.size()) - 1;
    for (int64_t t = 0; t < len; ++t) {
      ia[r][t] = row[static_cast<size_t>(t)];
      ma[r][t] = 1;
    }
    const int64_t n = ro.generated[static_cast<size_t>(r)];
    for (int64_t j = 0; j < P; ++j) pa[r][j] = n > 0 ? ro.first_position(r) + std::min(j, n - 1) : 0;
  }
  at::Tensor le = expert.logits_at(ids, mask, pos);
  at::Tensor la = amateur.logits_at(ids, mask, pos).to(le.device());
  return {le.reshape({nb * P, v.expert}).narrow(1, 0, v.shared),
          la.reshape({nb * P, v.amateur}).narrow(1, 0, v.shared)};
}

at::Tensor on_cpu(const at::Tensor& t) { return t.to(torch::kCPU).contiguous(); }

// 5. The library's KL and keep flags (kappa as sample.selection wants it,
// step_selection.h) and, for the contrastive targets, its targets in the same pass.
void library_rows(const PositionLogits& l, const Vocab& v, const SampleOptions& o, ScoredRows& out) {
  lr::torch_adapter::SelectOptions sel;
  sel.kl_threshold = library_kl_threshold(o.selection, o.kl_threshold);
  sel.shared_vocab = v.shared;
  if (o.targets != "contrastive") {
    const lr::torch_adapter::SelectResult res = lr::torch_adapter::select_steps(l.expert, l.amateur, sel);
    out.kl = on_cpu(res.kl);
    out.keep = on_cpu(res.keep);
    return;
  }
  lr::torch_adapter::TargetOptions tgt;
  tgt.k = o.k;
  tgt.beta = o.beta;
  tgt.shared_vocab = v.shared;
  const lr::torch_adapter::FusedResult res = lr::torch_adapter::select_and_build(l.expert, l.amateur, sel, tgt);
  out.kl = on_cpu(res.kl);
  out.keep = on_cpu(res.keep);
  out.ids = on_cpu(res.ids);
  out.weights = on_cpu(res.weights);
  out.support = on_cpu(res.support_size);
}

// sample.selection = "random": each rollout's keep flags redrawn (step_selection.h).
void keep_random(const Rollouts& ro, const std::vector<int64_t>& problem_ids, const SampleOptions& o,
                 ScoredRows& out) {
  float* kl = out.kl.data_ptr<float>();
  bool* keep = out.keep.data_ptr<bool>();
  for (size_t r = 0; r < problem_ids.size(); ++r)
    keep_random_steps(kl + r * size_t(out.positions), keep + r * size_t(out.positions), ro.generated[r],
                      o.kl_threshold, o.seed, problem_ids[r]);
}

// sample.targets = "expert" / "argmax": the kept rows' targets from the
// expert's logits alone (ablation_targets.h), in the library's layout.
void expert_rows(const at::Tensor& expert_logits, const SampleOptions& o, ScoredRows& out) {
  const at::Tensor rows = out.keep.nonzero().select(1, 0);
  const ExpertTargets t = expert_targets(expert_logits, rows.to(expert_logits.device()), o.targets, o.k, o.beta);
  const int64_t n = out.keep.size(0);
  out.ids = torch::full({n, o.k}, -1, torch::kInt32).index_copy_(0, rows, on_cpu(t.ids));
  out.weights = torch::zeros({n, o.k}, torch::kFloat32).index_copy_(0, rows, on_cpu(t.weights));
  out.support = torch::zeros({n}, torch::kInt32).index_copy_(0, rows, on_cpu(t.support_size));
}

// 3-5. Selection and targets of every generated position of the batch.
ScoredRows score(const Qwen2Model& expert, const Qwen2Model& amateur, const Rollouts& ro, const Vocab& v,
                 const SampleOptions& o, const std::vector<int64_t>& problem_ids) {
  ScoredRows out;
  out.positions = std::max<int64_t>(ro.max_generated, 1);
  if (ro.max_generated == 0) return out;
  const PositionLogits l = position_logits(expert, amateur, ro, v, out.positions);
  library_rows(l, v, o, out);
  if (o.selection == "random") keep_random(ro, problem_ids, o, out);
  if (o.targets != "contrastive") expert_rows(l.expert, o, out);
  return out;
}

// 6. The kept records of rollout r (problem p) and its done marker.
ProblemDone problem_records(const Problem& p, const Rollouts& ro, int64_t r, const ScoredRows& rows,
                            std::vector<SupervisionRecord>& recs) {
  const int64_t n = ro.generated[static_cast<size_t>(r)];
  ProblemDone d;
  d.problem = p.id;
  d.generated = n;
  d.positions = n;
  d.cut_at_unshared = ro.cut[static_cast<size_t>(r)];
  if (n == 0) return d;
  const float* klp = rows.kl.data_ptr<float>();
  const bool* kp = rows.keep.data_ptr<bool>();
  const int32_t* idp = rows.ids.data_ptr<int32_t>();
  const float* wp = rows.weights.data_ptr<float>();
  const int32_t* sp = rows.support.data_ptr<int32_t>();
  const int64_t K = rows.ids.size(1);
  for (int64_t j = 0; j < n; ++j) {
    const int64_t row = r * rows.positions + j;
    const float x = klp[row];
    if (!std::isfinite(x)) {  // a data fault (NaN), or an overflow JSON cannot hold
      ++d.kl_faults;
      continue;
    }
    ++d.kl_histogram[kl_bin(x)];
    if (!kp[row]) continue;
    SupervisionRecord rec;
    rec.problem = p.id;
    rec.rollout = ro.ids[static_cast<size_t>(r)];
    rec.position = ro.first_position(r) + j;
    rec.kl = x;
    rec.support_size = sp[row];
    for (int64_t s = 0; s < K && idp[row * K + s] >= 0; ++s) {
      rec.target_ids.push_back(idp[row * K + s]);
      rec.target_weights.push_back(wp[row * K + s]);
    }
    recs.push_back(std::move(rec));
  }
  d.records = static_cast<int64_t>(recs.size());
  return d;
}

// Where a call stands: problems done (before and by it), and its limit.
struct CallCount {
  int64_t already = 0, done = 0, this_call = 0, limit = -1;
  bool limit_reached() const { return limit >= 0 && this_call >= limit; }
};

bool is_done(const SupervisionStore& store, const SampleOptions& o, int64_t problem) {
  return store.is_done(problem) || o.done_elsewhere.count(problem) != 0;
}

bool batch_has_work(const SupervisionStore& store, const SampleOptions& o, const std::vector<Problem>& problems,
                    int64_t b0, int64_t b1) {
  for (int64_t i = b0; i < b1; ++i)
    if (!is_done(store, o, problems[static_cast<size_t>(i)].id)) return true;
  return false;
}

// One batch [b0, b1): rollouts, scores, and the records of its problems not yet done.
void sample_batch(const Qwen2Model& expert, const Qwen2Model& amateur, const Tokenizer& tokenizer,
                  const std::vector<Problem>& problems, int64_t b0, int64_t b1, int64_t batch, const Vocab& v,
                  const SampleOptions& o, SupervisionStore& store, CallCount& count) {
  const Rollouts ro =
      roll_out(expert, encode_prompts(tokenizer, problems, b0, b1, o, v.embeddable), o, batch, v.shared);
  std::vector<int64_t> problem_ids;
  for (int64_t i = b0; i < b1; ++i) problem_ids.push_back(problems[static_cast<size_t>(i)].id);
  const ScoredRows rows = score(expert, amateur, ro, v, o, problem_ids);
  for (int64_t r = 0; r < b1 - b0 && !count.limit_reached(); ++r) {
    const Problem& p = problems[static_cast<size_t>(b0 + r)];
    if (is_done(store, o, p.id)) continue;
    std::vector<SupervisionRecord> recs;
    const ProblemDone d = problem_records(p, ro, r, rows, recs);
    store.append_problem(recs, d);
    ++count.this_call;
    ++count.done;
  }
}

}  // namespace

SampleStats run_sampling(const Qwen2Model& expert, const Qwen2Model& amateur, const Tokenizer& tokenizer,
                         const std::vector<Problem>& problems, const SampleOptions& options,
                         const std::string& out_path, const SampleProgress& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  check_options(options);
  check_unique_ids(problems);
  const Vocab v = vocab_of(expert, amateur, tokenizer);
  SupervisionStore store = SupervisionStore::open(out_path, sample_settings(options, v.expert, v.amateur, v.tokenizer));

  const int64_t total = static_cast<int64_t>(problems.size()), bs = options.batch_size;
  const int64_t mine = options.shard.items_owned(total, bs);  // problems this shard computes
  CallCount count;
  for (int64_t i = 0; i < total; ++i)
    count.already += options.shard.owns_batch(i / bs) && is_done(store, options, problems[size_t(i)].id) ? 1 : 0;
  count.done = count.already;
  count.limit = options.max_problems_this_call;

  torch::NoGradGuard no_grad;
  for (int64_t b0 = 0, batch = 0; b0 < total && !count.limit_reached(); b0 += bs, ++batch) {
    const int64_t b1 = std::min(total, b0 + bs);
    if (!options.shard.owns_batch(batch) || !batch_has_work(store, options, problems, b0, b1)) continue;
    sample_batch(expert, amateur, tokenizer, problems, b0, b1, batch, v, options, store, count);
    if (progress) progress(count.done, mine);
  }

  SampleStats s = supervision_stats(out_path, options.k);
  s.problems_total = total;
  s.problems_this_call = count.this_call;
  s.problems_already_done = count.already;
  s.resume_truncated_bytes = store.truncated_bytes();
  s.expert_vocab = v.expert;
  s.amateur_vocab = v.amateur;
  s.tokenizer_vocab = v.tokenizer;
  s.shared_vocab = v.shared;
  s.expert_rows_dropped = v.expert - v.shared;
  s.amateur_rows_dropped = v.amateur - v.shared;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (options.shard.whole()) write_json_atomically(stats_path_for(out_path), s.to_json());
  return s;
}

}  // namespace lr::driver
