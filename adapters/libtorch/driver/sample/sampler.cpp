#include "sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include <torch/utils.h>

#include "lightreasoner/torch.h"
#include "model/generate.h"
#include "model/sampling.h"
#include "io/json_files.h"
#include "prompt/chat_prompt.h"
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
  j["seconds"] = seconds;
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

SampleStats run_sampling(const Qwen2Model& expert, const Qwen2Model& amateur, const Tokenizer& tokenizer,
                         const std::vector<Problem>& problems, const SampleOptions& options,
                         const std::string& out_path, const SampleProgress& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  check_options(options);
  {
    std::set<int64_t> ids;
    for (const Problem& p : problems)
      if (!ids.insert(p.id).second) throw std::invalid_argument("sample: problem id " + std::to_string(p.id) + " twice");
  }
  const int64_t ve = expert.config().vocab_size;
  const int64_t va = amateur.config().vocab_size;
  const int64_t vt = tokenizer.vocab_size();
  const int64_t shared = std::min({ve, va, vt});
  const int64_t embeddable = std::min(ve, va);
  if (shared < 1) throw std::invalid_argument("sample: no shared vocabulary");

  SupervisionStore store = SupervisionStore::open(out_path, sample_settings(options, ve, va, vt));

  const int64_t total = static_cast<int64_t>(problems.size());
  int64_t already = 0;
  for (const Problem& p : problems) already += store.is_done(p.id) ? 1 : 0;
  int64_t done_count = already;
  int64_t this_call = 0;
  const bool limited = options.max_problems_this_call >= 0;
  auto limit_reached = [&] { return limited && this_call >= options.max_problems_this_call; };

  lr::torch_adapter::SelectOptions sel;
  sel.kl_threshold = options.kl_threshold;
  sel.shared_vocab = shared;
  lr::torch_adapter::TargetOptions tgt;
  tgt.k = options.k;
  tgt.beta = options.beta;
  tgt.shared_vocab = shared;

  torch::NoGradGuard no_grad;
  const int64_t bs = options.batch_size;
  for (int64_t b0 = 0, batch = 0; b0 < total && !limit_reached(); b0 += bs, ++batch) {
    const int64_t b1 = std::min(total, b0 + bs);
    bool any = false;
    for (int64_t i = b0; i < b1; ++i) any = any || !store.is_done(problems[static_cast<size_t>(i)].id);
    if (!any) continue;
    const int64_t nb = b1 - b0;

    // 1. prompts
    std::vector<std::vector<int64_t>> prompts;
    prompts.reserve(static_cast<size_t>(nb));
    for (int64_t i = b0; i < b1; ++i) {
      const Problem& p = problems[static_cast<size_t>(i)];
      const std::vector<int32_t> ids =
          tokenizer.encode(options.prompt_template.empty()
                               ? render_chat_prompt(options.system_prompt, p.question)
                               : render_prompt(options.prompt_template, options.system_prompt, p.question));
      std::vector<int64_t> v(ids.begin(), ids.end());
      for (int64_t id : v)
        if (id < 0 || id >= embeddable)
          throw std::invalid_argument("sample: problem " + std::to_string(p.id) + ": prompt id " + std::to_string(id) +
                                      " outside a model's vocabulary (" + std::to_string(embeddable) + ")");
      prompts.push_back(std::move(v));
    }

    // 2. expert rollouts
    GenerateOptions g;
    g.max_new_tokens = options.max_new_tokens;
    g.greedy = options.greedy;
    g.temperature = options.temperature;
    g.top_p = options.top_p;
    g.seed = splitmix64(options.seed ^ splitmix64(static_cast<uint64_t>(batch)));
    g.stop_ids = options.stop_ids;
    g.batch_size = nb;
    std::vector<std::vector<int64_t>> gens = generate(expert, prompts, g);
    std::vector<std::vector<int64_t>> rollouts(static_cast<size_t>(nb));
    std::vector<int64_t> n_gen(static_cast<size_t>(nb));
    std::vector<bool> cut(static_cast<size_t>(nb), false);
    int64_t max_input = 1, max_pos = 0;
    for (int64_t r = 0; r < nb; ++r) {
      auto& gen = gens[static_cast<size_t>(r)];
      for (size_t j = 0; j < gen.size(); ++j)
        if (gen[j] < 0 || gen[j] >= shared) {
          gen.resize(j + 1);  // keep the id as the last target, never as input
          cut[static_cast<size_t>(r)] = true;
          break;
        }
      auto& ro = rollouts[static_cast<size_t>(r)];
      ro = prompts[static_cast<size_t>(r)];
      ro.insert(ro.end(), gen.begin(), gen.end());
      n_gen[static_cast<size_t>(r)] = static_cast<int64_t>(gen.size());
      max_input = std::max<int64_t>(max_input, static_cast<int64_t>(ro.size()) - 1);
      max_pos = std::max<int64_t>(max_pos, static_cast<int64_t>(gen.size()));
    }

    // 3-5. one teacher-forced forward of each model over rollout[0 .. len-2]
    // (the last id is only ever a target), selection and targets in one call.
    at::Tensor kl, keep, tids, tweights, support;
    const int64_t P = std::max<int64_t>(max_pos, 1);
    if (max_pos > 0) {
      at::Tensor ids = torch::zeros({nb, max_input}, torch::kInt64);
      at::Tensor mask = torch::zeros({nb, max_input}, torch::kInt64);
      at::Tensor pos = torch::zeros({nb, P}, torch::kInt64);
      auto ia = ids.accessor<int64_t, 2>();
      auto ma = mask.accessor<int64_t, 2>();
      auto pa = pos.accessor<int64_t, 2>();
      for (int64_t r = 0; r < nb; ++r) {
        const auto& ro = rollouts[static_cast<size_t>(r)];
        const int64_t len = static_cast<int64_t>(ro.size()) - 1;
        for (int64_t t = 0; t < len; ++t) {
          ia[r][t] = ro[static_cast<size_t>(t)];
          ma[r][t] = 1;
        }
        const int64_t first = static_cast<int64_t>(prompts[static_cast<size_t>(r)].size()) - 1;
        const int64_t n = n_gen[static_cast<size_t>(r)];
        for (int64_t j = 0; j < P; ++j) pa[r][j] = n > 0 ? first + std::min(j, n - 1) : 0;
      }
      at::Tensor le = expert.logits_at(ids, mask, pos);
      at::Tensor la = amateur.logits_at(ids, mask, pos).to(le.device());
      le = le.reshape({nb * P, ve}).narrow(1, 0, shared);
      la = la.reshape({nb * P, va}).narrow(1, 0, shared);
      lr::torch_adapter::FusedResult res = lr::torch_adapter::select_and_build(le, la, sel, tgt);
      kl = res.kl.to(torch::kCPU).contiguous();
      keep = res.keep.to(torch::kCPU).contiguous();
      tids = res.ids.to(torch::kCPU).contiguous();
      tweights = res.weights.to(torch::kCPU).contiguous();
      support = res.support_size.to(torch::kCPU).contiguous();
    }

    // 6. records, problem by problem in order
    for (int64_t r = 0; r < nb && !limit_reached(); ++r) {
      const Problem& p = problems[static_cast<size_t>(b0 + r)];
      if (store.is_done(p.id)) continue;
      const auto& ro = rollouts[static_cast<size_t>(r)];
      const int64_t first = static_cast<int64_t>(prompts[static_cast<size_t>(r)].size()) - 1;
      const int64_t n = n_gen[static_cast<size_t>(r)];
      ProblemDone d;
      d.problem = p.id;
      d.generated = n;
      d.positions = n;
      d.cut_at_unshared = cut[static_cast<size_t>(r)];
      std::vector<SupervisionRecord> recs;
      if (n > 0) {
        const float* klp = kl.data_ptr<float>();
        const bool* kp = keep.data_ptr<bool>();
        const int32_t* idp = tids.data_ptr<int32_t>();
        const float* wp = tweights.data_ptr<float>();
        const int32_t* sp = support.data_ptr<int32_t>();
        const int64_t K = tids.size(1);
        for (int64_t j = 0; j < n; ++j) {
          const int64_t row = r * P + j;
          const float x = klp[row];
          if (!std::isfinite(x)) {  // a data fault (NaN), or an overflow JSON cannot hold
            ++d.kl_faults;
            continue;
          }
          ++d.kl_histogram[kl_bin(x)];
          if (!kp[row]) continue;
          SupervisionRecord rec;
          rec.problem = p.id;
          rec.rollout = ro;
          rec.position = first + j;
          rec.kl = x;
          rec.support_size = sp[row];
          for (int64_t s = 0; s < K; ++s) {
            const int32_t id = idp[row * K + s];
            if (id < 0) break;
            rec.target_ids.push_back(id);
            rec.target_weights.push_back(wp[row * K + s]);
          }
          recs.push_back(std::move(rec));
        }
      }
      d.records = static_cast<int64_t>(recs.size());
      store.append_problem(recs, d);
      ++this_call;
      ++done_count;
    }
    if (progress) progress(done_count, total);
  }

  SampleStats s = supervision_stats(out_path, options.k);
  s.problems_total = total;
  s.problems_this_call = this_call;
  s.problems_already_done = already;
  s.resume_truncated_bytes = store.truncated_bytes();
  s.expert_vocab = ve;
  s.amateur_vocab = va;
  s.tokenizer_vocab = vt;
  s.shared_vocab = shared;
  s.expert_rows_dropped = ve - shared;
  s.amateur_rows_dropped = va - shared;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_json_atomically(stats_path_for(out_path), s.to_json());
  return s;
}

}  // namespace lr::driver
