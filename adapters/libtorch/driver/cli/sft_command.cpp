// lightreasoner sft --config FILE [--set key=value ...]
// The rejection-sampling SFT baseline: greedy trajectories on [sft].num_problems
// training problems, the correct ones kept, LoRA on all their tokens, the PEFT
// adapter in RUN/sft/adapter/ (sft_stage.cpp). Ctrl-C stops cleanly; the same
// command resumes. When no trajectory is correct it still finishes, with a
// summary saying so and no adapter.
#include <memory>
#include <stdexcept>

#include "run_log.h"
#include "commands.h"
#include "config/experiment_config.h"
#include "stages.h"

namespace lr::driver::cli {

namespace {
struct SftArgs {
  std::string config;
  std::vector<std::string> overrides;
};
}  // namespace

void add_sft_command(CLI::App& app) {
  auto args = std::make_shared<SftArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sft", "The SFT baseline: expert trajectories on training problems, the correct ones kept, LoRA with "
             "cross-entropy on their tokens; RUN/sft/ (resumable)");
  cmd->add_option("--config", args->config, "experiment TOML (see adapters/libtorch/driver/configs/)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->overrides, "override a config key, e.g. --set sft.num_problems=200 (repeatable)");
  cmd->callback([args] {
    const ExperimentConfig c = load_config(args->config, args->overrides);
    RunLog log(c.run.out_dir, "sft");
    const int code = run_sft_stage(c);
    if (code == kExitInterrupted) throw std::runtime_error("interrupted");
  });
}

}  // namespace lr::driver::cli
