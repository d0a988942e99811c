#include "diagnose/target_decoding.h"

#include <algorithm>
#include <stdexcept>

namespace lr::driver {

namespace {

bool is_stop(int64_t id, const std::vector<int64_t>& stop_ids) {
  return std::find(stop_ids.begin(), stop_ids.end(), id) != stop_ids.end();
}

// One step of the running rows: each row's next position scored, its target's
// top id appended; rows that stop leave `running`.
void step(const Qwen2Model& expert, const Qwen2Model& amateur, std::vector<std::vector<int64_t>>& sequences,
          std::vector<size_t>& running, const TargetDecodingOptions& o, TargetDecoding& out) {
  std::vector<Span> spans;
  for (size_t r : running) {
    const int64_t len = static_cast<int64_t>(sequences[r].size());
    spans.push_back({sequences[r], len - 1, 1});
  }
  const auto scores = score_spans(expert, amateur, spans, o.contrast);
  std::vector<size_t> still;
  for (size_t i = 0; i < running.size(); ++i) {
    const PositionScore& s = scores[i][0];
    sequences[running[i]].push_back(s.target_top);
    ++out.steps;
    if (s.target_top != s.expert_top) ++out.steps_off_expert;
    if (!is_stop(s.target_top, o.stop_ids)) still.push_back(running[i]);
  }
  running = std::move(still);
}

}  // namespace

TargetDecoding decode_from_targets(const Qwen2Model& expert, const Qwen2Model& amateur,
                                   const std::vector<std::vector<int64_t>>& prompts,
                                   const TargetDecodingOptions& o) {
  if (o.max_new_tokens < 1 || o.batch_size < 1)
    throw std::invalid_argument("diagnose: max_new_tokens and batch_size must be >= 1");
  TargetDecoding out;
  out.outputs.resize(prompts.size());
  const size_t total = prompts.size(), bs = static_cast<size_t>(o.batch_size);
  for (size_t b0 = 0; b0 < total; b0 += bs) {
    const size_t b1 = std::min(total, b0 + bs);
    std::vector<std::vector<int64_t>> sequences(prompts.begin() + long(b0), prompts.begin() + long(b1));
    std::vector<size_t> running;
    for (size_t r = 0; r < sequences.size(); ++r) {
      if (sequences[r].empty()) throw std::invalid_argument("diagnose: an empty prompt");
      running.push_back(r);
    }
    for (int64_t t = 0; t < o.max_new_tokens && !running.empty(); ++t) step(expert, amateur, sequences, running, o, out);
    for (size_t r = 0; r < sequences.size(); ++r)
      out.outputs[b0 + r].assign(sequences[r].begin() + long(prompts[b0 + r].size()), sequences[r].end());
    if (o.progress) o.progress(static_cast<int64_t>(b1), static_cast<int64_t>(total));
  }
  return out;
}

}  // namespace lr::driver
