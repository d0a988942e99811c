// Stage 3 (eval) as a function: every configured dataset on the base expert,
// the expert + LightReasoner adapter (RUN/adapter/) and the expert + SFT
// adapter (RUN/sft/adapter/), greedy, with per-model prompts.
//
//   RUN/eval/<model>/<dataset>.jsonl  one line per problem (evaluate/results_file.h)
//   RUN/eval/<model>/<dataset>.timing.jsonl  generation time per batch (evaluate/batch_timing.h)
//   RUN/eval/<model>/summary.json     accuracy, n, correct, seconds per dataset
//   RUN/eval/<model>/settings.json    what the results were made with; a
//                                     resume with other settings is refused
//
// On the ranks of a group the problems are sharded (stages/sharded_results.h):
// every rank checks the settings, rank 0 alone writes settings.json, the
// summaries and the messages; the merged files equal a one-process run's.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <functional>
#include <optional>
#include <stdexcept>

#include "distributed/process_group.h"
#include "evaluate/datasets.h"
#include "evaluate/evaluator.h"
#include "io/file_digest.h"
#include "io/json_files.h"
#include "io/run_layout.h"
#include "io/settings_file.h"
#include "io/whole_io.h"
#include "model/qwen2_model.h"
#include "prompt/prompt_template.h"
#include "runtime/interrupt.h"
#include "runtime/model_loading.h"
#include "runtime/progress.h"
#include "stages/eval_progress.h"
#include "stages/sharded_results.h"
#include "stages/stage.h"
#include "train/lora.h"
#include "train/peft_export.h"

namespace lr::driver {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

struct ModelSpec {
  std::string name;     // base, tuned, sft
  std::string adapter;  // "" for the base model
  std::string prompt;   // "plain" or "cot"
};

// What `which` selects, given the adapters present. Messages about models
// left out go to `notes` (printed by the caller). An explicit "tuned"
// without an adapter is an error; sft is skipped with a note whenever it has
// no adapter (the SFT baseline may legitimately keep no trajectory).
std::vector<ModelSpec> resolve_models(const ExperimentConfig& c, const std::string& which,
                                      std::vector<std::string>& notes) {
  if (which != "all" && which != "base" && which != "tuned" && which != "sft")
    throw std::invalid_argument("eval --model " + which + ": expected base, tuned, sft or all");
  const RunLayout run(c.run.out_dir);
  std::vector<ModelSpec> out;
  if (which == "all" || which == "base") out.push_back({"base", "", c.eval.base_prompt});
  if (which == "all" || which == "tuned") {
    const fs::path adapter = run.adapter();
    if (RunLayout::has_adapter(adapter))
      out.push_back({"tuned", adapter.string(), c.eval.tuned_prompt});
    else if (which == "tuned")
      throw std::runtime_error(adapter.string() + ": no LightReasoner adapter (adapter_config.json, "
                               "adapter_model.safetensors); run `lightreasoner train` first");
    else
      notes.push_back("tuned: skipped, no LightReasoner adapter in " + adapter.string() +
                      " (run `lightreasoner train` first)");
  }
  if (which == "all" || which == "sft") {
    const fs::path adapter = run.sft_adapter();
    const fs::path summary = run.sft_summary();
    const std::optional<json> s = read_json_file(summary.string());
    if (s && s->is_object() && s->value("complete", false) && s->contains("adapter") && (*s)["adapter"].is_null())
      notes.push_back("sft: skipped, the SFT baseline kept no correct trajectory (" +
                      std::to_string(s->value("kept", int64_t{0})) + " of " +
                      std::to_string(s->value("problems", int64_t{0})) + " problems; " + summary.string() +
                      "), so there is no SFT adapter to evaluate");
    else if (RunLayout::has_adapter(adapter))
      out.push_back({"sft", adapter.string(), c.eval.tuned_prompt});
    else
      notes.push_back("sft: skipped, no SFT adapter in " + adapter.string() + " (run `lightreasoner sft` first)");
  }
  return out;
}

// eval.stop_ids, else the model's eos ids plus the tokenizer's <|im_end|> and
// <|endoftext|> (the Qwen2.5-Math toolkit stops at both whatever the model).
std::vector<int64_t> eval_stop_ids(const ExperimentConfig& c, const Qwen2Config& config, const Tokenizer& tokenizer) {
  return c.eval.stop_ids.empty() ? chat_stop_ids_for(c.models.expert, config, tokenizer) : c.eval.stop_ids;
}

std::vector<std::string> stop_strings_for(const ExperimentConfig& c, const ModelSpec& m) {
  return m.prompt == "plain" ? c.eval.plain_stop_strings : std::vector<std::string>{};
}

json dataset_settings(const EvalDataset& d) {
  return {{"file", d.file},
          {"question_field", d.question_field},
          {"answer_field", d.answer_field},
          {"context_field", d.context_field},
          {"choices_field", d.choices_field}};
}

json model_settings(const ExperimentConfig& c, const ModelSpec& m, const std::vector<int64_t>& stop_ids) {
  json s = {{"model", m.name},
            {"expert", c.models.expert},
            {"adapter", m.adapter.empty() ? json(nullptr) : json(m.adapter)},
            {"adapter_digest", m.adapter.empty() ? json(nullptr)
                                                 : json(file_digest((fs::path(m.adapter) / RunLayout::kAdapterWeights).string()))},
            {"prompt", m.prompt},
            {"template", m.prompt == "cot" ? c.prompt.templ : c.prompt.eval_template_base},
            {"system", c.prompt.system},
            {"max_new_tokens", c.eval.max_new_tokens},
            {"stop_ids", stop_ids},
            {"stop_strings", stop_strings_for(c, m)},
            {"dtype", c.run.dtype}};
  return s;
}

// Reads settings.json and refuses results made with other settings; adds
// the datasets not yet listed. Returns the settings to write.
json checked_settings(const fs::path& dir, const json& model, const std::vector<EvalDataset>& datasets) {
  json now = {{"model", model}, {"datasets", json::object()}};
  std::optional<json> then = read_settings(dir.string());
  if (then && then->contains("datasets") && (*then)["datasets"].is_object()) now["datasets"] = (*then)["datasets"];
  const std::string hint = "; delete " + dir.string() + " to evaluate again, or set run.out_dir";
  if (then && then->contains("model"))
    if (auto d = settings_difference((*then)["model"], model))
      throw std::runtime_error((dir / "settings.json").string() + ": results made with other settings (" + *d + ")" +
                               hint);
  for (const EvalDataset& ds : datasets) {
    const json s = dataset_settings(ds);
    if (now["datasets"].contains(ds.name)) {
      if (auto d = settings_difference(now["datasets"][ds.name], s))
        throw std::runtime_error((dir / "settings.json").string() + ": " + ds.name +
                                 " results made with other settings (" + *d + ")" + hint);
    } else {
      now["datasets"][ds.name] = s;
    }
  }
  return now;
}

// One model's scores so far, one per dataset evaluated.
struct ModelScores {
  std::vector<std::pair<std::string, DatasetScore>> scores;
  std::vector<int64_t> totals;  // problems per dataset
  bool complete = true;
};

void write_summary(const ExperimentConfig& c, const ModelSpec& m, const ModelScores& ms, bool complete) {
  const RunLayout run(c.run.out_dir);
  ordered_json ds = ordered_json::object();
  double acc_sum = 0;
  for (size_t i = 0; i < ms.scores.size(); ++i) {
    const auto& [name, s] = ms.scores[i];
    ordered_json j = s.to_json();
    j["total"] = ms.totals[i];
    j["complete"] = s.complete;
    j["results"] = run.eval_results(m.name, name).filename().string();
    ds[name] = j;
    acc_sum += s.accuracy;
  }
  ordered_json summary;
  summary["model"] = m.name;
  summary["expert"] = c.models.expert;
  summary["adapter"] = m.adapter.empty() ? ordered_json(nullptr) : ordered_json(m.adapter);
  summary["prompt"] = m.prompt;
  summary["max_new_tokens"] = c.eval.max_new_tokens;
  summary["limit"] = c.eval.limit;
  summary["complete"] = complete;
  summary["datasets"] = ds;
  summary["average_accuracy"] = ms.scores.empty() ? 0.0 : acc_sum / static_cast<double>(ms.scores.size());
  write_json_atomically(run.eval_summary(m.name).string(), summary);
}

void check_models_exist(const ExperimentConfig& c) {
  if (!fs::exists(fs::path(c.models.expert) / "config.json")) {
    if (c.models.make_tiny)
      throw std::runtime_error(c.models.expert + ": the tiny models are not written yet (models.make_tiny); "
                               "`lightreasoner run` writes them, or write them with `lightreasoner make-tiny-model`");
    throw std::runtime_error(c.models.expert + ": no config.json in models.expert");
  }
}

Qwen2Model load_model(const ExperimentConfig& c, const ModelSpec& m) {
  Qwen2Model model = Qwen2Model::load(c.models.expert, device_from(c.run.device, "run.device"), dtype_from(c.run.dtype));
  if (!m.adapter.empty()) {
    load_peft_adapter(m.adapter, model);
    set_lora_training(model, false);
    merge_lora(model);  // W + scaling B A: plain Linears again, as fast as the base model
  }
  return model;
}

EvalOptions eval_options(const ExperimentConfig& c, const ModelSpec& m, const std::vector<int64_t>& stop_ids) {
  EvalOptions eo;
  eo.prompt = m.prompt == "cot" ? std::function<std::string(const std::string&)>(
                                      [&c](const std::string& q) { return cot_prompt(c.prompt, q); })
                                : [&c](const std::string& q) { return plain_prompt(c.prompt, q); };
  eo.max_new_tokens = c.eval.max_new_tokens;
  eo.batch_size = c.eval.batch_size;
  eo.stop_ids = stop_ids;
  eo.stop_strings = stop_strings_for(c, m);
  eo.stop = &InterruptScope::flag();
  return eo;
}

void print_score(const ModelSpec& m, const EvalDataset& d, const DatasetScore& s) {
  char acc[32];
  std::snprintf(acc, sizeof acc, "%.1f%%", 100.0 * s.accuracy);
  std::cerr << "eval: " << m.name << " " << d.name << ": " << s.correct << "/" << s.n << " correct (" << acc << ")"
            << (s.done_before ? ", " + std::to_string(s.done_before) + " from an earlier run" : "") << "\n";
}

// Every dataset on one model (resuming its results files); false when Ctrl-C stopped it.
bool evaluate_model(const ExperimentConfig& c, const ModelSpec& m, const Tokenizer& tokenizer,
                    const std::vector<std::vector<EvalProblem>>& problems) {
  const RunLayout run(c.run.out_dir);
  const fs::path dir = run.eval_dir(m.name);
  Qwen2Model model = load_model(c, m);
  const std::vector<int64_t> stop_ids = eval_stop_ids(c, model.config(), tokenizer);
  const json settings = checked_settings(dir, model_settings(c, m, stop_ids), c.eval.datasets);
  if (dist::rank() == 0) write_settings(dir.string(), settings);
  dist::barrier("eval settings " + dir.string());  // written before any rank writes a result
  const bool speaks = dist::rank() == 0;  // the summaries and messages
  EvalOptions eo = eval_options(c, m, stop_ids);
  ModelScores ms;
  for (size_t i = 0; i < c.eval.datasets.size(); ++i) {
    const EvalDataset& d = c.eval.datasets[i];
    std::optional<Progress> progress;
    show_progress(eo, progress, "eval " + m.name + "/" + d.name);
    DatasetScore s = evaluate_on_ranks(model, tokenizer, problems[i], eo, run.eval_results(m.name, d.name));
    if (progress && s.complete) progress->finish();
    ms.scores.emplace_back(d.name, s);
    ms.totals.push_back(static_cast<int64_t>(problems[i].size()));
    ms.complete = ms.complete && s.complete;
    if (speaks) write_summary(c, m, ms, false);
    if (InterruptScope::requested()) {
      say_to_stderr("\neval: " + dist::rank_prefix() + "interrupted; the results so far are in " + dir.string() +
                    " (run the same command to resume)\n");
      return false;
    }
    if (speaks) print_score(m, d, s);
  }
  if (!speaks) return true;
  write_summary(c, m, ms, ms.complete);
  std::cout << run.eval_summary(m.name).string() << "\n";
  return true;
}

// Whether one model's summary and settings say it is complete with the current settings.
bool model_complete(const ExperimentConfig& c, const ModelSpec& m, const std::vector<int64_t>& stop_ids) {
  const RunLayout run(c.run.out_dir);
  const std::optional<json> s = read_json_file(run.eval_summary(m.name).string());
  if (!s || !s->is_object() || !s->value("complete", false) || s->value("limit", int64_t{-1}) != c.eval.limit ||
      s->value("max_new_tokens", int64_t{-1}) != c.eval.max_new_tokens)
    return false;
  if (!s->contains("datasets") || !s->at("datasets").is_object()) return false;
  for (const EvalDataset& d : c.eval.datasets)
    if (!s->at("datasets").contains(d.name) || !s->at("datasets").at(d.name).value("complete", false)) return false;
  // The same settings (adapter digest, prompt, stop ids) as now.
  const std::optional<json> then = read_settings(run.eval_dir(m.name).string());
  if (!then || !then->contains("model") || !then->contains("datasets")) return false;
  if (settings_difference(then->at("model"), model_settings(c, m, stop_ids))) return false;
  const json& ds = then->at("datasets");
  for (const EvalDataset& d : c.eval.datasets)
    if (!ds.is_object() || !ds.contains(d.name) || settings_difference(ds.at(d.name), dataset_settings(d)))
      return false;
  return true;
}

}  // namespace

int run_eval_stage(const ExperimentConfig& c, const StageOptions& options) {
  std::vector<std::string> notes;
  const std::vector<ModelSpec> models = resolve_models(c, options.models, notes);
  for (const auto& n : notes) std::cerr << "eval: " << n << "\n";
  if (models.empty()) {
    std::cerr << "eval: no model to evaluate\n";
    return 0;
  }
  check_models_exist(c);
  // Every dataset is read (and checked) before any model runs.
  std::vector<std::vector<EvalProblem>> problems;
  for (const EvalDataset& d : c.eval.datasets) problems.push_back(load_eval_dataset(d, c.eval.limit));
  const Tokenizer tokenizer = tokenizer_in(c.models.expert);
  InterruptScope interrupt;
  for (const ModelSpec& m : models)
    if (!evaluate_model(c, m, tokenizer, problems)) return kExitInterrupted;
  return 0;
}

bool eval_stage_complete(const ExperimentConfig& c, const StageOptions& options) {
  try {
    std::vector<std::string> notes;
    const std::vector<ModelSpec> models = resolve_models(c, options.models, notes);
    // The stop ids the models would get (reading the tokenizer only when needed).
    std::optional<std::vector<int64_t>> stop;
    for (const ModelSpec& m : models) {
      if (!fs::exists(RunLayout(c.run.out_dir).eval_summary(m.name))) return false;
      if (!stop)
        stop = eval_stop_ids(c, Qwen2Config::from_json_file((fs::path(c.models.expert) / "config.json").string()),
                             tokenizer_in(c.models.expert));
      if (!model_complete(c, m, *stop)) return false;
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace lr::driver
