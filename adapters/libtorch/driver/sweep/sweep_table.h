// The sweep's table, in the shape of the paper's Tables 5 and 6, built from
// the run folders' files (sweep_results.h):
//   - one row per variant, base first: per eval dataset the accuracy's mean
//     and sample SD over seeds (and n), the average over datasets (per seed,
//     then over seeds), and its difference from base's;
//   - per row and dataset the paired comparison with base: the mean over
//     seeds of (variant - base) with its standard error, and the problems
//     right only with the variant (wins) or only with base (losses), summed
//     over seeds; the same for lightreasoner vs sft when both are rows;
//   - a verdict on the last eval dataset (the test split; the first is for
//     choices), and what is missing.
// RUN/sweep.json holds it all (accuracies in percent, differences in points);
// RUN/sweep.md shows it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/experiment_config.h"
#include "sweep/sweep_results.h"

namespace lr::driver {

// RUN/sweep.json's document; `diagnostics` is RUN/diagnostics.json's (null when absent).
nlohmann::ordered_json sweep_table_json(const ExperimentConfig& sweep_config, const std::vector<VariantRuns>& runs,
                                        const nlohmann::ordered_json& diagnostics);

// The verdict paragraph from that document's numbers on its last dataset.
std::string sweep_verdict(const nlohmann::ordered_json& table);

// RUN/sweep.md from that document.
std::string sweep_markdown(const nlohmann::ordered_json& table);

}  // namespace lr::driver
