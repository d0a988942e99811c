// lightreasoner sweep --config FILE [--set key=value ...] [--table-only]:
// each variant with each seed (sweep/sweep.h), then RUN/sweep.md and
// RUN/sweep.json; stdout is the table's path alone. --table-only rewrites the
// table from the run folders without running anything.
#include <iostream>
#include <memory>

#include "commands.h"
#include "config_verb.h"
#include "stages/stage.h"
#include "sweep/sweep.h"

namespace lr::driver::cli {

void add_sweep_command(CLI::App& app) {
  auto table_only = std::make_shared<bool>(false);
  CLI::App* cmd = add_config_verb(
      app,
      {"sweep",
       "Each variant of [sweep] variants with each seed of [sweep] seeds, one run folder each under RUN/sweep/, "
       "then the table RUN/sweep.md (accuracy mean ± SD over seeds, paired comparisons with base, a verdict)",
       "sweep.seeds=[1,2]"},
      [table_only](const ExperimentConfig& c, const std::vector<std::string>& overrides) {
        const std::string table = *table_only ? write_sweep_table(c) : run_sweep(c, overrides);
        if (table.empty()) return kExitInterrupted;
        std::cout << table << "\n";
        return 0;
      });
  cmd->add_flag("--table-only", *table_only, "rewrite RUN/sweep.md and RUN/sweep.json from the run folders only");
}

}  // namespace lr::driver::cli
