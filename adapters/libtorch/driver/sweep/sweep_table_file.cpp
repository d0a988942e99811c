// write_sweep_table: RUN/sweep.json and RUN/sweep.md from the run folders'
// files (and RUN/diagnostics.json when the diagnose stage wrote one).
#include <optional>

#include "io/atomic_file.h"
#include "io/json_files.h"
#include "io/run_layout.h"
#include "sweep/sweep.h"
#include "sweep/sweep_results.h"
#include "sweep/sweep_table.h"
#include "sweep/variants.h"

namespace lr::driver {

std::string write_sweep_table(const ExperimentConfig& c) {
  const RunLayout run(c.run.out_dir);
  const std::vector<VariantRuns> runs = read_sweep_runs(c, sweep_variants(c));
  const std::optional<nlohmann::ordered_json> diagnostics =
      read_json_file<nlohmann::ordered_json>(run.diagnostics().string());
  const nlohmann::ordered_json table = sweep_table_json(c, runs, diagnostics.value_or(nullptr));
  write_json_atomically(run.sweep_json().string(), table);
  write_file_atomically(run.sweep_table().string(), sweep_markdown(table));
  return run.sweep_table().string();
}

}  // namespace lr::driver
