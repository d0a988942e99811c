// The training problems of the SFT baseline: data.train_file (the bundled
// GSM8K train set by default) with data.question_field / data.answer_field,
// the same selection as the sampling stage (data.shuffle with run.seed), cut
// to sft.num_problems (0: all). Ground truths are graded with
// AnswerKind::kAuto (a GSM8K answer is read after its "####").
#pragma once

#include <vector>

#include "config/experiment_config.h"
#include "evaluate/datasets.h"

namespace lr::driver {

// Throws DatasetError for a bad file or line.
std::vector<EvalProblem> sft_problems(const ExperimentConfig& config);

}  // namespace lr::driver
