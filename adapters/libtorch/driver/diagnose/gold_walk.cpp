#include "diagnose/gold_walk.h"

#include <algorithm>
#include <stdexcept>

namespace lr::driver {

namespace {

// Whether a model's top id is the gold token: the same id, or, where the gold
// solution ends, any stop id (each one ends the answer alike).
struct GoldMatch {
  const std::vector<int64_t>& stop_ids;
  bool is_stop(int64_t id) const { return std::find(stop_ids.begin(), stop_ids.end(), id) != stop_ids.end(); }
  bool operator()(int64_t top, int64_t gold) const { return top == gold || (is_stop(gold) && is_stop(top)); }
};

void count_correct(const PositionScore& s, int64_t gold, const GoldMatch& match, GoldCounts& c) {
  ++c.correct_tokens;
  if (!match(s.target_top, gold)) ++c.overturned;
}

void count_first_error(const PositionScore& s, int64_t gold, const GoldMatch& match, GoldCounts& c) {
  ++c.first_errors;
  if (match(s.target_top, gold)) ++c.fixed;
  if (match(s.amateur_top, gold)) ++c.amateur_right;
}

nlohmann::ordered_json counts_json(const GoldCounts& c) {
  return {{"correct_tokens", c.correct_tokens},
          {"overturned", c.overturned},
          {"first_errors", c.first_errors},
          {"fixed", c.fixed},
          {"amateur_right", c.amateur_right}};
}

}  // namespace

void add_gold_walk(const std::vector<PositionScore>& scores, const std::vector<int64_t>& gold, GoldWalk& walk,
                   const std::vector<int64_t>& stop_ids) {
  if (scores.size() != gold.size())
    throw std::invalid_argument("diagnose: gold walk: scores and gold tokens differ in length");
  ++walk.problems;
  const GoldMatch match{stop_ids};
  for (size_t j = 0; j < gold.size(); ++j) {
    const PositionScore& s = scores[j];
    ++walk.walked;
    const bool error = !match(s.expert_top, gold[j]);
    auto count = error ? count_first_error : count_correct;
    count(s, gold[j], match, walk.all);
    if (s.kept) count(s, gold[j], match, walk.kept);
    if (error) return;  // the walk ends at the first error
  }
}

GoldWalk walk_gold(const Qwen2Model& expert, const Qwen2Model& amateur, const std::vector<std::vector<int64_t>>& prompts,
                   const std::vector<std::vector<int64_t>>& golds, const ContrastOptions& options, int64_t batch_size,
                   const std::function<void(int64_t, int64_t)>& progress, const std::vector<int64_t>& stop_ids) {
  if (prompts.size() != golds.size() || batch_size < 1) throw std::invalid_argument("diagnose: gold walk: bad inputs");
  GoldWalk walk;
  const size_t total = prompts.size(), bs = static_cast<size_t>(batch_size);
  for (size_t b0 = 0; b0 < total; b0 += bs) {
    const size_t b1 = std::min(total, b0 + bs);
    std::vector<Span> spans;
    for (size_t i = b0; i < b1; ++i) {
      Span s{prompts[i], static_cast<int64_t>(prompts[i].size()) - 1, static_cast<int64_t>(golds[i].size())};
      s.ids.insert(s.ids.end(), golds[i].begin(), golds[i].end());
      spans.push_back(std::move(s));
    }
    const auto scores = score_spans(expert, amateur, spans, options);
    for (size_t r = 0; r < scores.size(); ++r) add_gold_walk(scores[r], golds[b0 + r], walk, stop_ids);
    if (progress) progress(static_cast<int64_t>(b1), static_cast<int64_t>(total));
  }
  return walk;
}

nlohmann::ordered_json GoldWalk::to_json() const {
  return {{"problems", problems}, {"walked", walked}, {"all", counts_json(all)}, {"kept", counts_json(kept)}};
}

}  // namespace lr::driver
