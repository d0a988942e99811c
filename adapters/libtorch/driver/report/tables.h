// The sections of report.md, each written from the run's files (run_files.h).
#pragma once

#include <ostream>

#include "config/experiment_config.h"
#include "report/run_files.h"

namespace lr::driver {

// The title, the run folder and config, the models and the method's settings.
void write_run_header(std::ostream& md, const ExperimentConfig& config);

// Table 1: accuracy (zero-shot pass@1, %) per benchmark and model, with notes.
void write_accuracy_table(std::ostream& md, const ExperimentConfig& config, const RunFiles& files);

// Table 2: time, problems and tuned tokens of SFT and LightReasoner.
void write_efficiency_table(std::ostream& md, const ExperimentConfig& config, const RunFiles& files);

// The sampling statistics: counts, the KL histogram, the support sizes.
void write_sampling_statistics(std::ostream& md, const ExperimentConfig& config, const RunFiles& files);

// The training losses, first and last.
void write_training(std::ostream& md, const ExperimentConfig& config, const RunFiles& files);

}  // namespace lr::driver
