// lightreasoner eval --config FILE [--set key=value ...] [--model base|tuned|sft|all]
// Stage 3: greedy zero-shot evaluation of the base expert, the LightReasoner
// model (RUN/adapter/) and the SFT baseline (RUN/sft/adapter/) on [eval]'s
// datasets. Results per problem in RUN/eval/<model>/<dataset>.jsonl, a summary
// per model in RUN/eval/<model>/summary.json (eval_stage.cpp). Ctrl-C stops
// after the current batch; the same command resumes.
#include <memory>
#include <stdexcept>

#include "run_log.h"
#include "commands.h"
#include "config/experiment_config.h"
#include "stages.h"

namespace lr::driver::cli {

namespace {
struct EvalArgs {
  std::string config;
  std::vector<std::string> overrides;
  std::string model = "all";
};
}  // namespace

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Stage 3: greedy evaluation of the base, LightReasoner and SFT models on the [eval] datasets; "
              "RUN/eval/<model>/<dataset>.jsonl and summary.json (resumable)");
  cmd->add_option("--config", args->config, "experiment TOML (see adapters/libtorch/driver/configs/)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->overrides, "override a config key, e.g. --set eval.limit=100 (repeatable)");
  cmd->add_option("--model", args->model,
                  "base (the expert), tuned (expert + RUN/adapter), sft (expert + RUN/sft/adapter) or all "
                  "(base, then those whose adapter exists)")
      ->check(CLI::IsMember({"base", "tuned", "sft", "all"}))
      ->capture_default_str();
  cmd->callback([args] {
    StageOptions options;
    options.models = args->model;
    const ExperimentConfig c = load_config(args->config, args->overrides);
    RunLog log(c.run.out_dir, "eval");
    const int code = run_eval_stage(c, options);
    if (code == kExitInterrupted) throw std::runtime_error("interrupted");
  });
}

}  // namespace lr::driver::cli
