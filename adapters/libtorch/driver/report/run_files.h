// What the report reads from a run folder (io/run_layout.h), each part absent
// (nullopt, empty) when its stage has not written it yet.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/experiment_config.h"

namespace lr::driver {

// One evaluated model: accuracy (percent) per dataset, from its summary.json.
struct ModelScores {
  bool present = false;
  std::map<std::string, double> accuracy;  // percent
  std::map<std::string, std::pair<int64_t, int64_t>> n_total;
  bool complete = false;
};

struct RunFiles {
  std::optional<nlohmann::json> stats;       // supervision.stats.json
  std::optional<nlohmann::json> diagnostics;  // diagnostics.json
  std::optional<nlohmann::json> seconds;     // stage_seconds.json
  std::optional<nlohmann::json> train_done;  // train/complete.json
  std::optional<nlohmann::json> sft;         // sft/summary.json
  std::vector<nlohmann::json> lr_metrics;    // train_metrics.jsonl
  std::vector<nlohmann::json> sft_metrics;   // sft/train_metrics.jsonl
  std::vector<std::string> datasets;         // the configured ones, in order
  // base, sft, tuned: the rows of Table 1.
  std::vector<std::pair<std::string, ModelScores>> models;
};

RunFiles read_run_files(const ExperimentConfig& config);

}  // namespace lr::driver
