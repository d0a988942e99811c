// lightreasoner run --config FILE [--set key=value ...]: the whole experiment
// (stages/run.cpp); stdout is the report's path alone.
#include <iostream>

#include "commands.h"
#include "config_verb.h"
#include "stages/stage.h"

namespace lr::driver::cli {

void add_run_command(CLI::App& app) {
  add_config_verb(app,
                  {"run",
                   "The whole experiment: sample -> train -> eval (-> sft when [sft].enabled) -> report, skipping "
                   "the stages already complete (rerun to resume after a stop)",
                   "data.num_problems=100", true, true},
                  [](const ExperimentConfig& c) {
                    const std::string report = run_experiment(c);
                    if (!report.empty()) std::cout << report << "\n";  // rank 0's alone under a launch
                    return 0;
                  });
}

}  // namespace lr::driver::cli
