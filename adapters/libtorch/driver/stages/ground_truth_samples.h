// sft.source = "ground_truth" (the paper's Table 6 "GT supervision"): the SFT
// stage trains on the problems' own worked solutions instead of the expert's
// right rollouts. No rollouts; every problem is a training sequence: the ids of
// the chain-of-thought prompt the rollouts use (prompt/prompt_template.h),
// then the ids of its data.answer_field text encoded on its own, then the
// first stop id (the model's eos) so the model learns to stop; loss on the
// answer and the stop id, cut and counted as sft_samples.h says.
#pragma once

#include <cstdint>
#include <vector>

#include "config/experiment_config.h"
#include "evaluate/datasets.h"
#include "stages/sft_samples.h"
#include "tokenizer.h"

namespace lr::driver {

// `problems`: the SFT stage's (training_problems.h); their answer texts are
// read from data.train_file by id. stop_ids empty: no stop id appended.
// Throws ProblemsError for a bad file, std::runtime_error for a problem
// without an answer text.
SftSamples ground_truth_samples(const ExperimentConfig& c, const Tokenizer& tokenizer,
                                const std::vector<EvalProblem>& problems, const std::vector<int64_t>& stop_ids);

}  // namespace lr::driver
