// lightreasoner report --config FILE [--set key=value ...]: RUN/report.md and
// RUN/plots/ (report/report.h). Not logged: it only reads the run folder.
#include <iostream>

#include "commands.h"
#include "config_verb.h"
#include "report/report.h"

namespace lr::driver::cli {

void add_report_command(CLI::App& app) {
  add_config_verb(app,
                  {"report",
                   "RUN/report.md: Table 1 (accuracy: base / SFT / LightReasoner) and Table 2 (time, problems, tuned "
                   "tokens), sampling statistics, and PNG plots in RUN/plots/ (gnuplot)",
                   "", /*log=*/false},
                  [](const ExperimentConfig& c) {
                    const std::string path = write_report(c);
                    std::cerr << "report: " << path << "\n";
                    std::cout << path << "\n";
                    return 0;
                  });
}

}  // namespace lr::driver::cli
