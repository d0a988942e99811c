// `lightreasoner sweep`: each variant of sweep.variants (variants.h) with
// each seed of sweep.seeds, one run folder each under RUN/sweep/, then one
// table over them, RUN/sweep.md and RUN/sweep.json, in the shape of the
// paper's Tables 5 and 6 (sweep_table.h). Rerunning resumes: every stage of
// every run is skipped when complete.
#pragma once

#include <string>
#include <vector>

#include "config/experiment_config.h"

namespace lr::driver {

// Prepares the models (stages/stage.h prepare_models), runs what each run's
// row needs, then writes the table; returns the table's path. `overrides`
// are the sweep's own --set values (each run's config is built from them).
// Returns "" after a Ctrl-C (every run then resumes from where it stopped).
std::string run_sweep(const ExperimentConfig& config, const std::vector<std::string>& overrides);

// RUN/sweep.md and RUN/sweep.json from the run folders' files only (nothing
// runs); returns the Markdown file's path.
std::string write_sweep_table(const ExperimentConfig& config);

}  // namespace lr::driver
