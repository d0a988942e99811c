// The report's PNG plots in RUN/plots/, drawn by gnuplot (pngcairo) from a
// generated script kept beside them (plots.gp and its .dat files): the KL
// distribution of the scored positions, the training losses, the accuracy
// per benchmark and model.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/experiment_config.h"
#include "report/run_files.h"

namespace lr::driver {

struct PlotSet {
  std::vector<std::pair<std::string, std::string>> made;  // file, caption
  std::vector<std::string> notes;                         // what was not drawn, and why
};

// Writes the data files and the script, runs gnuplot; the PNGs made.
PlotSet draw_plots(const ExperimentConfig& config, const RunFiles& files);

}  // namespace lr::driver
