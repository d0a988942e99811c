// The verbs that run from an experiment config (sample, train, eval, sft,
// run, report) share one shape, written here once: --config FILE (required)
// and --set key=value (repeatable) parsed, the config loaded, RUN/logs/<verb>.log
// kept while the stage runs with the BLAS line (runtime/blas_info.h) at its
// start (the warning on the reference BLAS on stderr too), and a stage stopped by Ctrl-C
// (kExitInterrupted) turned into the one-line failure "interrupted" (exit 1,
// see main.cpp).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "config/experiment_config.h"

namespace lr::driver::cli {

struct ConfigVerb {
  std::string name;
  std::string description;
  std::string set_example;  // e.g. "sample.kl_threshold=0.5"; "" for none
  bool log = true;          // copy stderr to RUN/logs/<name>.log (rank R > 0: <name>.rankR.log)
  // Joins the torch.distributed group the environment describes, if any
  // (distributed/launch_env.h): sample, train, eval, sft and run.
  bool distributed = false;
};

// Returns 0, or kExitInterrupted (stages/stage.h) when Ctrl-C stopped it.
using ConfigVerbRun = std::function<int(const ExperimentConfig&)>;

// Adds the verb; the caller may add options of its own to the result.
CLI::App* add_config_verb(CLI::App& app, const ConfigVerb& verb, ConfigVerbRun run);

// The names of the verbs added with `distributed` (what `lightreasoner launch` may start).
const std::vector<std::string>& distributed_verbs();

// The same for a verb that builds further configs from the same file and
// needs the --set values as given (sweep).
using ConfigVerbRunWithOverrides = std::function<int(const ExperimentConfig&, const std::vector<std::string>&)>;
CLI::App* add_config_verb(CLI::App& app, const ConfigVerb& verb, ConfigVerbRunWithOverrides run);

}  // namespace lr::driver::cli
