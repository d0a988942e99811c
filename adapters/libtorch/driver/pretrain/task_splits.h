// The miniature's fixed splits of chain problems (`lightreasoner make-task`):
// the stage-1 training problems, the validation split every choice is made on,
// and the test split, pairwise disjoint by question. configs/miniature/ holds
// them as generated with the default seed (a test regenerates and compares).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pretrain/word_problems.h"

namespace lr::driver {

struct TaskSplitSizes {
  int64_t train = 2000;
  int64_t val = 300;
  int64_t test = 500;
};

struct TaskSplits {
  std::vector<WordProblem> train, val, test;
};

// Chain problems drawn in order from one generator seeded with `seed`, each
// question kept once: the first sizes.train, then sizes.val, then sizes.test.
TaskSplits make_task_splits(uint64_t seed, const TaskSplitSizes& sizes = {});

// One JSON line {"question": ..., "answer": ...} (GSM8K's fields), newline-terminated.
std::string problem_json_line(const WordProblem& problem);

// DIR/train.jsonl, DIR/val.jsonl, DIR/test.jsonl (each atomically), creating DIR.
void write_task_splits(const std::string& dir, const TaskSplits& splits);

}  // namespace lr::driver
