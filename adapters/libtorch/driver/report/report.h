// `lightreasoner report`: RUN/report.md, the run's results in the shape of the
// paper's Table 1 (accuracy per benchmark for the base expert, the SFT
// baseline and LightReasoner, with their average) and Table 2 (time, problems
// and tuned tokens of SFT and LightReasoner), the sampling statistics, the
// diagnostics (diagnostics_section.h), the training curves, and PNG plots in
// RUN/plots/ (plots.h). It reads the run folder's files only
// (io/run_layout.h); whatever a stage has not produced yet is shown as "—"
// with a note.
#pragma once

#include <string>

#include "config/experiment_config.h"

namespace lr::driver {

// Writes RUN/report.md (atomically) and the plots; returns the report's path.
std::string write_report(const ExperimentConfig& config);

}  // namespace lr::driver
