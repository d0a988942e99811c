// The diagnostics stage (`lightreasoner diagnose`, and `run` after sample when
// diagnostics.enabled): what explains a result (METHOD.md "Diagnostics"), on
// the first diagnostics.problems problems of the first eval dataset (the
// validation split) with the run's expert and amateur, stage 1's prompt and
// its kappa, beta, K and max_new_tokens (lr_diagnose). Writes
// RUN/diagnostics.json whole at the end with the settings it was made with;
// `run` skips it when that file holds the current settings. Ctrl-C leaves no
// file (the stage is short and starts over).
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>

#include "config/experiment_config.h"
#include "diagnose/diagnostics.h"
#include "evaluate/datasets.h"
#include "io/file_digest.h"
#include "io/json_files.h"
#include "io/run_layout.h"
#include "io/settings_file.h"
#include "model/qwen2_model.h"
#include "prompt/prompt_template.h"
#include "runtime/interrupt.h"
#include "runtime/model_loading.h"
#include "runtime/progress.h"
#include "stages/rollout_stop_ids.h"
#include "stages/stage.h"

namespace lr::driver {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const EvalDataset& validation_dataset(const ExperimentConfig& c) {
  if (c.eval.datasets.empty())
    throw std::runtime_error(c.source + ": diagnose: no eval dataset (the first of eval.datasets is the validation split)");
  return c.eval.datasets.front();
}

// A model folder's identity: its path, and digests of its config and weights
// (the tiny and pretrained models are rewritten in place by other settings).
json model_identity(const std::string& dir) {
  const fs::path weights = fs::path(dir) / "model.safetensors";
  return {{"path", dir},
          {"config_digest", file_digest((fs::path(dir) / "config.json").string())},
          {"weights_digest", fs::exists(weights) ? json(file_digest(weights.string())) : json(nullptr)}};
}

// Everything the diagnostics depend on; the file holds it under "settings".
json diagnose_settings(const ExperimentConfig& c, const std::vector<int64_t>& stop_ids) {
  const EvalDataset& d = validation_dataset(c);
  return {{"expert", model_identity(c.models.expert)},
          {"amateur", model_identity(c.models.amateur)},
          {"dtype", c.run.dtype},
          {"dataset", {{"name", d.name}, {"file", d.file}, {"question_field", d.question_field},
                       {"answer_field", d.answer_field}, {"context_field", d.context_field},
                       {"choices_field", d.choices_field}}},
          {"problems", c.diagnostics.problems},
          {"template", c.prompt.templ},
          {"system", c.prompt.system},
          {"kl_threshold", c.sample.kl_threshold},
          {"beta", c.sample.beta},
          {"k", c.sample.k},
          {"max_new_tokens", c.sample.max_new_tokens},
          {"batch_size", c.sample.batch_size},  // padding changes floating-point reductions
          {"stop_ids", stop_ids}};
}

DiagnoseOptions diagnose_options(const ExperimentConfig& c, std::vector<int64_t> stop_ids) {
  DiagnoseOptions o;
  o.prompt = [&c](const std::string& q) { return cot_prompt(c.prompt, q); };  // stage 1's prompt
  o.max_new_tokens = c.sample.max_new_tokens;
  o.kl_threshold = float(c.sample.kl_threshold);
  o.beta = float(c.sample.beta);
  o.k = c.sample.k;
  o.batch_size = c.sample.batch_size;
  o.stop_ids = std::move(stop_ids);
  return o;
}

// Thrown from the progress callback after Ctrl-C.
struct DiagnoseInterrupted {};

// One progress line per phase of run_diagnostics.
class PhaseProgress {
 public:
  void operator()(const std::string& phase, int64_t done, int64_t total) {
    if (phase != phase_) {
      finish();
      bar_ = std::make_unique<Progress>("diagnose: " + phase, total, "problems");
      phase_ = phase;
    }
    bar_->update(done);
    if (InterruptScope::requested()) throw DiagnoseInterrupted{};
  }
  void finish() {
    if (bar_) bar_->finish();
    bar_.reset();
  }

 private:
  std::string phase_;
  std::unique_ptr<Progress> bar_;
};

void print_summary(const nlohmann::ordered_json& d, const std::string& path) {
  const auto& dec = d["decoding"];
  std::cerr << "diagnose: " << d["problems"] << " problems; kept fraction " << d["rollouts"]["kept_fraction"]
            << "; greedy accuracy: expert " << dec["expert_greedy"]["accuracy"] << ", from the target "
            << dec["target_greedy"]["accuracy"] << "; in " << path << "\n";
}

}  // namespace

int run_diagnose_stage(const ExperimentConfig& c) {
  const auto t0 = std::chrono::steady_clock::now();
  InterruptScope interrupt;
  ensure_tiny_models(c);
  const torch::Device device = device_from(c.run.device, "run.device");
  const Tokenizer tokenizer = tokenizer_in(c.models.expert);
  const Qwen2Model expert = Qwen2Model::load(c.models.expert, device, dtype_from(c.run.dtype));
  const Qwen2Model amateur = Qwen2Model::load(c.models.amateur, device, dtype_from(c.run.dtype));
  const std::vector<EvalProblem> problems = load_eval_dataset(validation_dataset(c), c.diagnostics.problems);
  const std::vector<int64_t> stop_ids = rollout_stop_ids(c, expert.config(), tokenizer);
  const RunLayout run(c.run.out_dir);
  PhaseProgress progress;
  nlohmann::ordered_json out;
  out["settings"] = diagnose_settings(c, stop_ids);
  try {
    out.update(run_diagnostics(expert, amateur, tokenizer, problems, diagnose_options(c, stop_ids), std::ref(progress)));
  } catch (const DiagnoseInterrupted&) {
    std::cerr << "\ndiagnose: interrupted; nothing written (run the same command to start over)\n";
    return kExitInterrupted;
  }
  progress.finish();
  out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_json_atomically(run.diagnostics().string(), out);
  print_summary(out, run.diagnostics().string());
  std::cout << run.diagnostics().string() << "\n";
  return 0;
}

bool diagnose_stage_complete(const ExperimentConfig& c) {
  const RunLayout run(c.run.out_dir);
  const auto file = read_json_file(run.diagnostics().string());
  if (!file || !file->is_object() || !file->contains("settings") || !file->contains("gold")) return false;
  const fs::path expert_config = fs::path(c.models.expert) / "config.json";
  if (!fs::exists(expert_config) || !fs::exists(fs::path(c.models.amateur) / "config.json")) return false;
  const Tokenizer tokenizer = tokenizer_in(c.models.expert);
  const std::vector<int64_t> stop_ids =
      rollout_stop_ids(c, Qwen2Config::from_json_file(expert_config.string()), tokenizer);
  return !settings_difference(file->at("settings"), diagnose_settings(c, stop_ids));
}

}  // namespace lr::driver
