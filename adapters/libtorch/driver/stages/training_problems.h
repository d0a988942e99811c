// The training problems of the sampling stage and of the SFT baseline, chosen
// the same way: data.train_file (the bundled GSM8K train set by default) with
// data.question_field / data.answer_field, shuffled with run.seed when
// data.shuffle, then cut (0: all).
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "config/experiment_config.h"
#include "evaluate/datasets.h"
#include "sample/problems.h"

namespace lr::driver {

// The selection itself: shuffled with run.seed when data.shuffle, cut to count (0: all).
template <class P>
void select_training_problems(std::vector<P>& problems, const ExperimentConfig& c, int64_t count) {
  if (c.data.shuffle) std::shuffle(problems.begin(), problems.end(), std::mt19937_64(uint64_t(c.run.seed)));
  if (count > 0 && count < int64_t(problems.size())) problems.resize(size_t(count));
}

// The sampling stage's: data.num_problems of them.
std::vector<Problem> sample_problems(const ExperimentConfig& config);

// The SFT baseline's: sft.num_problems of them, as evaluation problems (their
// ground truths graded with AnswerKind::kAuto: a GSM8K answer is read after
// its "####"). Throws DatasetError for a bad file or line.
std::vector<EvalProblem> sft_problems(const ExperimentConfig& config);

}  // namespace lr::driver
