#include "config_verb.h"

#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "runtime/blas_info.h"
#include "runtime/run_log.h"
#include "stages/stage.h"

namespace lr::driver::cli {

namespace {
struct ConfigArgs {
  std::string config;
  std::vector<std::string> overrides;
};
}  // namespace

CLI::App* add_config_verb(CLI::App& app, const ConfigVerb& verb, ConfigVerbRun run) {
  auto args = std::make_shared<ConfigArgs>();
  CLI::App* cmd = app.add_subcommand(verb.name, verb.description);
  cmd->add_option("--config", args->config, "experiment TOML (see adapters/libtorch/driver/configs/)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->overrides,
                  verb.set_example.empty() ? std::string("override a config key (repeatable)")
                                           : "override a config key, e.g. --set " + verb.set_example + " (repeatable)");
  cmd->callback([args, verb, run] {
    const ExperimentConfig c = load_config(args->config, args->overrides);
    std::optional<RunLog> log;
    if (verb.log) log.emplace(c.run.out_dir, verb.name);
    print_blas_lines(std::cerr, find_blas_info());  // the speed of every CPU run depends on it
    if (run(c) == kExitInterrupted) throw std::runtime_error("interrupted");
  });
  return cmd;
}

}  // namespace lr::driver::cli
