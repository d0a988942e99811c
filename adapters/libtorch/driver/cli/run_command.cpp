// lightreasoner run --config FILE [--set key=value ...]
// The whole experiment: (the tiny models when models.make_tiny) -> sample ->
// train -> eval (base and LightReasoner) -> sft and its eval when
// [sft].enabled -> report. A stage whose outputs are complete for the current
// settings is skipped ("skipped: complete"), so rerunning the same command
// after a Ctrl-C, a kill or a crash goes on where it stopped.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "run_log.h"
#include "commands.h"
#include "config/experiment_config.h"
#include "evaluate/run_settings.h"
#include "interrupt.h"
#include "stages.h"

namespace lr::driver::cli {

namespace fs = std::filesystem;

void add_stage_seconds(const ExperimentConfig& c, const std::string& stage, double seconds) {
  const fs::path path = fs::path(c.run.out_dir) / "stage_seconds.json";
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (std::ifstream in(path); in) {
    j = nlohmann::ordered_json::parse(in, nullptr, false);
    if (!j.is_object()) j = nlohmann::ordered_json::object();
  }
  j[stage] = j.value(stage, 0.0) + seconds;
  fs::create_directories(path.parent_path());
  write_json_atomically(path.string(), j);
}

namespace {

// std::cout into std::cerr's buffer until restore() or the end of the scope.
class CoutToCerr {
 public:
  CoutToCerr() : saved_(std::cout.rdbuf(std::cerr.rdbuf())) {}
  ~CoutToCerr() { restore(); }
  CoutToCerr(const CoutToCerr&) = delete;
  CoutToCerr& operator=(const CoutToCerr&) = delete;
  void restore() {
    if (saved_) std::cout.rdbuf(saved_);
    saved_ = nullptr;
  }

 private:
  std::streambuf* saved_;
};

struct RunArgs {
  std::string config;
  std::vector<std::string> overrides;
};

struct Stage {
  std::string name;
  std::function<bool()> complete;
  std::function<int()> run;
};

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 120 ? "%.1f s" : "%.1f min", s < 120 ? s : s / 60);
  return buf;
}

void run_all(const RunArgs& args) {
  const ExperimentConfig c = load_config(args.config, args.overrides);
  RunLog log(c.run.out_dir, "run");  // outlives the redirect below: the last lines are logged too
  // The stages print their outputs' paths on stdout; under `run` those go to
  // stderr with the rest of the log, and stdout is the report's path alone.
  CoutToCerr redirect;
  InterruptScope interrupt;  // outermost: Ctrl-C between stages stops before the next one
  const auto t0 = std::chrono::steady_clock::now();
  std::cerr << "run: " << c.source << " -> " << c.run.out_dir << "\n";
  if (c.models.make_tiny) {
    std::cerr << "run: models.make_tiny: random tiny models (a smoke run: its accuracies mean nothing)\n";
    ensure_tiny_models(c);
  }

  StageOptions all;
  all.models = "all";
  std::vector<Stage> stages = {
      {"sample", [&] { return sample_stage_complete(c); }, [&] { return run_sample_stage(c); }},
      {"train", [&] { return train_stage_complete(c); }, [&] { return run_train_stage(c); }},
      {"eval", [&] { return eval_stage_complete(c, all); }, [&] { return run_eval_stage(c, all); }},
  };
  if (c.sft.enabled) {
    stages.push_back({"sft", [&] { return sft_stage_complete(c); }, [&] { return run_sft_stage(c); }});
    // The SFT model's evaluation (base and LightReasoner are complete by now).
    stages.push_back({"eval (sft)", [&] { return eval_stage_complete(c, all); }, [&] { return run_eval_stage(c, all); }});
  }
  const size_t n = stages.size() + 1;
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage& s = stages[i];
    const std::string tag = "run: [" + std::to_string(i + 1) + "/" + std::to_string(n) + "] " + s.name;
    if (InterruptScope::requested()) {
      std::cerr << "run: interrupted before " << s.name << "; the same command resumes\n";
      throw std::runtime_error("interrupted");
    }
    if (s.complete()) {
      std::cerr << tag << ": skipped: complete\n";
      continue;
    }
    std::cerr << tag << "\n";
    if (s.run() == kExitInterrupted || InterruptScope::requested()) {
      std::cerr << "run: interrupted in " << s.name << "; the same command resumes\n";
      throw std::runtime_error("interrupted");
    }
  }
  std::cerr << "run: [" << n << "/" << n << "] report\n";
  const std::string report = write_report(c);
  redirect.restore();
  std::cerr << "run: done in " << seconds_text(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count())
            << "; the report is " << report << "\n";
  std::cout << report << "\n";
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand(
      "run", "The whole experiment: sample -> train -> eval (-> sft when [sft].enabled) -> report, skipping "
             "the stages already complete (rerun to resume after a stop)");
  cmd->add_option("--config", args->config, "experiment TOML (see adapters/libtorch/driver/configs/)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->overrides, "override a config key, e.g. --set data.num_problems=100 (repeatable)");
  cmd->callback([args] { run_all(*args); });
}

}  // namespace lr::driver::cli
