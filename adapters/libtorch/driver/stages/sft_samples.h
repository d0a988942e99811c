// Rejection sampling: the kept trajectories of the SFT baseline. From the
// trajectories file (results_file.h lines with "prompt_ids" / "output_ids",
// written by the evaluation loop with record_ids), every trajectory graded
// correct becomes a training sequence: its exact prompt ids + output ids (the
// stop id included, so the model learns to stop; never decoded and
// re-encoded), loss on the output ids only. A sequence longer than
// max_seq_len loses the end of its output; one whose prompt alone leaves no
// room for an output token is dropped.
#pragma once

#include <cstdint>
#include <vector>

#include "evaluate/datasets.h"
#include "evaluate/results_file.h"
#include "train/sequence_objective.h"

namespace lr::driver {

struct SftSamples {
  std::vector<SequenceSample> samples;  // in the problems' order
  int64_t trajectories = 0;  // problems with a trajectory in the file
  int64_t correct = 0;       // of those, graded correct
  int64_t kept = 0;          // samples.size()
  int64_t tuned_tokens = 0;  // target tokens over the samples (one epoch)
  int64_t truncated = 0;     // kept samples whose output was cut to max_seq_len
  int64_t dropped_long_prompt = 0;  // correct trajectories dropped: prompt >= max_seq_len
};

// Throws ResultsFileError when a correct line lacks its ids.
SftSamples sft_samples(const ResultsFile& trajectories, const std::vector<EvalProblem>& problems,
                       int64_t max_seq_len);

// One training sequence, prompt ids + output ids with loss on the output,
// added to `out` under the rules above (cut to max_seq_len, or dropped when
// the prompt leaves no room; nothing when either part is empty).
void add_sequence(SftSamples& out, std::vector<int64_t> prompt, const std::vector<int64_t>& output,
                  int64_t max_seq_len);

}  // namespace lr::driver
