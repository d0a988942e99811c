// The runs of a sweep: the base expert's evaluation once (RUN/sweep/base/),
// then each variant with each seed (RUN/sweep/<variant>/seed-<s>/), each with
// the config its run folder is made with.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/experiment_config.h"
#include "sweep/variants.h"

namespace lr::driver {

struct SweepRun {
  Variant variant;
  int64_t seed = 0;
  ExperimentConfig config;  // run.out_dir is the run's folder
};

// The run folder of a variant's seed ("base" has one folder for every seed).
std::filesystem::path sweep_run_dir(const ExperimentConfig& sweep_config, const Variant& variant, int64_t seed);

// Every run, base first. Each config is load_config(the sweep's file, the
// sweep's --set overrides, then the models pinned to the sweep's resolved
// paths with make_tiny and pretrain off (nothing is rebuilt), the variant's
// overrides, run.out_dir and run.seed), so every check of the config applies.
// Throws std::runtime_error naming the variant for a bad one.
std::vector<SweepRun> plan_sweep(const ExperimentConfig& sweep_config, const std::vector<std::string>& overrides);

}  // namespace lr::driver
