#include "stages/sft_samples.h"

#include <algorithm>
#include <string>

namespace lr::driver {

SftSamples sft_samples(const ResultsFile& trajectories, const std::vector<EvalProblem>& problems,
                       int64_t max_seq_len) {
  SftSamples out;
  for (const EvalProblem& p : problems) {
    const auto it = trajectories.records().find(p.id);
    if (it == trajectories.records().end()) continue;
    ++out.trajectories;
    const ResultLine& r = it->second;
    if (!r.value("correct", false)) continue;
    ++out.correct;
    if (!r.contains("prompt_ids") || !r.contains("output_ids") || !r["prompt_ids"].is_array() ||
        !r["output_ids"].is_array())
      throw ResultsFileError(trajectories.path() + ": problem " + std::to_string(p.id) +
                             " has no prompt_ids / output_ids (a file written without record_ids?)");
    add_sequence(out, r["prompt_ids"].get<std::vector<int64_t>>(), r["output_ids"].get<std::vector<int64_t>>(),
                 max_seq_len);
  }
  return out;
}

void add_sequence(SftSamples& out, std::vector<int64_t> prompt, const std::vector<int64_t>& output,
                  int64_t max_seq_len) {
  SequenceSample s;
  s.ids = std::move(prompt);
  s.loss_start = static_cast<int64_t>(s.ids.size());
  if (output.empty() || s.loss_start < 1) return;  // nothing to learn from
  if (s.loss_start >= max_seq_len) {
    ++out.dropped_long_prompt;
    return;
  }
  const size_t room = static_cast<size_t>(max_seq_len - s.loss_start);
  if (output.size() > room) ++out.truncated;
  const auto end = output.begin() + static_cast<std::ptrdiff_t>(std::min(room, output.size()));
  s.ids.insert(s.ids.end(), output.begin(), end);
  out.tuned_tokens += target_tokens(s);
  out.samples.push_back(std::move(s));
  out.kept = static_cast<int64_t>(out.samples.size());
}

}  // namespace lr::driver
