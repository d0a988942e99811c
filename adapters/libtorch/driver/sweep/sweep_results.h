// What the sweep's table reads: each run folder's evaluation of its row's
// model (RUN/sweep/<variant>/seed-<s>/eval/<model>/summary.json and the
// per-problem <dataset>.jsonl, evaluate/results_file.h), and nothing else.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/experiment_config.h"
#include "sweep/variants.h"

namespace lr::driver {

// One run's complete evaluation on one dataset.
struct DatasetResult {
  double accuracy = 0;              // percent (summary.json)
  int64_t n = 0;                    // problems graded
  std::map<int64_t, bool> correct;  // per problem id (<dataset>.jsonl "correct")
};

struct VariantRuns {
  Variant variant;
  // seed -> dataset -> result; an evaluation not complete (or not run) is absent.
  // "base" has one run, under the sweep's run.seed, that pairs with every seed.
  std::map<int64_t, std::map<std::string, DatasetResult>> seeds;
  std::vector<std::string> notes;  // what is missing, and why
};

std::vector<VariantRuns> read_sweep_runs(const ExperimentConfig& sweep_config, const std::vector<Variant>& variants);

// v's result for `seed` on `dataset` (base's one run for any seed); nullptr when missing.
const DatasetResult* result_at(const VariantRuns& v, int64_t seed, const std::string& dataset);

}  // namespace lr::driver
