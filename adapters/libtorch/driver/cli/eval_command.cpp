// lightreasoner eval --config FILE [--set key=value ...] [--model base|tuned|sft|all]:
// stage 3 (stages/eval_stage.cpp).
#include <memory>

#include "commands.h"
#include "config_verb.h"
#include "stages/stage.h"

namespace lr::driver::cli {

void add_eval_command(CLI::App& app) {
  auto options = std::make_shared<StageOptions>();
  CLI::App* cmd = add_config_verb(
      app,
      {"eval",
       "Stage 3: greedy evaluation of the base, LightReasoner and SFT models on the [eval] datasets; "
       "RUN/eval/<model>/<dataset>.jsonl and summary.json (resumable)",
       "eval.limit=100", true, true},
      [options](const ExperimentConfig& c) { return run_eval_stage(c, *options); });
  cmd->add_option("--model", options->models,
                  "base (the expert), tuned (expert + RUN/adapter), sft (expert + RUN/sft/adapter) or all "
                  "(base, then those whose adapter exists)")
      ->check(CLI::IsMember({"base", "tuned", "sft", "all"}))
      ->capture_default_str();
}

}  // namespace lr::driver::cli
