#include "config_verb.h"

#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "distributed/launch_env.h"
#include "distributed/process_group.h"
#include "runtime/blas_info.h"
#include "runtime/run_log.h"
#include "stages/stage.h"

namespace lr::driver::cli {

namespace {
struct ConfigArgs {
  std::string config;
  std::vector<std::string> overrides;
};

// Joins the group of a distributed launch (nothing without its variables).
void join_if_launched(const ExperimentConfig& c) {
  const std::optional<LaunchEnv> env = launch_env_from();
  if (!env) return;
  dist::GroupOptions o;
  o.backend = c.run.backend;
  o.cuda = c.run.device.rfind("cuda", 0) == 0;
  o.peer_timeout_s = c.run.peer_timeout;
  o.rendezvous_timeout_s = c.run.rendezvous_timeout;
  dist::join(*env, o);
}

std::string log_name(const ConfigVerb& verb) {
  return dist::rank() == 0 ? verb.name : verb.name + ".rank" + std::to_string(dist::rank());
}

std::vector<std::string>& distributed_verb_list() {
  static std::vector<std::string> names;
  return names;
}

}  // namespace

const std::vector<std::string>& distributed_verbs() { return distributed_verb_list(); }

CLI::App* add_config_verb(CLI::App& app, const ConfigVerb& verb, ConfigVerbRun run) {
  return add_config_verb(app, verb, [run](const ExperimentConfig& c, const std::vector<std::string>&) { return run(c); });
}

CLI::App* add_config_verb(CLI::App& app, const ConfigVerb& verb, ConfigVerbRunWithOverrides run) {
  auto args = std::make_shared<ConfigArgs>();
  CLI::App* cmd = app.add_subcommand(verb.name, verb.description);
  if (verb.distributed) distributed_verb_list().push_back(verb.name);
  cmd->add_option("--config", args->config, "experiment TOML (see adapters/libtorch/driver/configs/)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->overrides,
                  verb.set_example.empty() ? std::string("override a config key (repeatable)")
                                           : "override a config key, e.g. --set " + verb.set_example + " (repeatable)");
  cmd->callback([args, verb, run] {
    const ExperimentConfig c = load_config(args->config, args->overrides);
    if (verb.distributed) join_if_launched(c);
    std::optional<RunLog> log;
    if (verb.log) log.emplace(c.run.out_dir, log_name(verb));
    // The speed of every CPU run depends on the BLAS: the line goes into the log (the
    // terminal output stays as it was); the warning on the slow one goes to stderr.
    const BlasInfo blas = find_blas_info();
    if (log) log->note(blas_line(blas));
    const std::string warning = slow_blas_warning(blas);
    if (!warning.empty()) std::cerr << warning << "\n";
    int status = 0;
    try {
      status = run(c, args->overrides);
    } catch (const std::exception& e) {
      dist::report_failure(e.what());  // the other ranks stop at once, naming this one
      if (dist::joined()) throw std::runtime_error(dist::rank_prefix() + e.what());
      throw;
    }
    if (status == kExitInterrupted) {
      dist::report_failure("interrupted");
      throw std::runtime_error(dist::rank_prefix() + "interrupted");
    }
    dist::leave();
  });
  return cmd;
}

}  // namespace lr::driver::cli
