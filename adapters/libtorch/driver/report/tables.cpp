#include "report/tables.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "io/run_layout.h"
#include "report/text_format.h"

namespace lr::driver {

namespace {

using json = nlohmann::json;

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

void write_notes(std::ostream& md, const std::vector<std::string>& notes) {
  for (const std::string& n : notes) md << "- " << kDash << " " << n << "\n";
}

// One row of Table 1; sets `partial` when a cell covers part of its benchmark.
void write_accuracy_row(std::ostream& md, const std::string& label, const ModelScores& m,
                        const std::vector<std::string>& datasets, bool& partial) {
  md << "| " << label << " |";
  double sum = 0;
  size_t have = 0;
  for (const std::string& d : datasets) {
    const auto it = m.accuracy.find(d);
    if (it == m.accuracy.end()) {
      md << " " << kDash << " |";
      continue;
    }
    const auto [n, total] = m.n_total.at(d);
    const bool part = total > 0 && n < total;
    partial = partial || part;
    md << " " << fmt("%.1f", it->second) << (part ? "*" : "") << " |";
    sum += it->second;
    ++have;
  }
  if (have == datasets.size() && have > 0) md << " " << fmt("%.1f", sum / double(have)) << " |\n";
  else md << " " << kDash << " |\n";
}

// Why a row of Table 1 is empty.
std::vector<std::string> accuracy_notes(const ExperimentConfig& c, const RunFiles& f) {
  std::vector<std::string> notes;
  if (!f.models[0].second.present) notes.push_back("base: not evaluated yet (`lightreasoner eval --model base`)");
  if (!f.models[2].second.present)
    notes.push_back(std::filesystem::exists(RunLayout(c.run.out_dir).adapter())
                        ? "LightReasoner: trained but not evaluated yet (`lightreasoner eval`)"
                        : "LightReasoner: not trained yet (`lightreasoner train`)");
  if (!f.models[1].second.present) {
    if (!c.sft.enabled) notes.push_back("SFT: the baseline is off (`[sft] enabled = false`)");
    else if (f.sft && f.sft->value("kept", int64_t{-1}) == 0)
      notes.push_back("SFT: no trajectory was graded correct, so there is no SFT model to evaluate");
    else if (!f.sft) notes.push_back("SFT: not run yet (`lightreasoner sft`)");
    else notes.push_back("SFT: not evaluated yet (`lightreasoner eval --model sft`)");
  }
  return notes;
}

void write_kl_histogram(std::ostream& md, const json& h) {
  const std::vector<double> edges = h.value("upper_edges", std::vector<double>{});
  const std::vector<int64_t> counts = h.value("counts", std::vector<int64_t>{});
  int64_t total = 0;
  for (int64_t x : counts) total += x;
  md << "KL(p_E ‖ p_A) of every scored position:\n\n| KL bin | positions | fraction |\n| --- | ---: | ---: |\n";
  for (size_t i = 0; i < counts.size(); ++i) {
    const double lo = i == 0 ? 0.0 : edges[i - 1];
    md << "| " << (i < edges.size() ? "[" + fmt("%g", lo) + ", " + fmt("%g", edges[i]) + ")" : "≥ " + fmt("%g", lo))
       << " | " << counts[i] << " | " << fmt("%.3f", total ? double(counts[i]) / double(total) : 0.0) << " |\n";
  }
  md << "\n";
}

void write_support_sizes(std::ostream& md, const json& histogram, int64_t records) {
  std::vector<std::pair<int64_t, int64_t>> sizes;
  for (const auto& [k, v] : histogram.items()) sizes.push_back({std::stoll(k), v.get<int64_t>()});
  std::sort(sizes.begin(), sizes.end());
  md << "Support sizes |M| of the kept steps' targets:\n\n| \\|M\\| | steps | fraction |\n| ---: | ---: | ---: |\n";
  for (const auto& [size, n] : sizes)
    md << "| " << size << " | " << n << " | " << fmt("%.3f", double(n) / double(records)) << " |\n";
  md << "\n";
}

void write_sampling_counts(std::ostream& md, const ExperimentConfig& c, const json& s) {
  md << "| | |\n| --- | ---: |\n"
     << "| problems done | " << s.value("problems_done", int64_t{0}) << " |\n"
     << "| generated tokens | " << s.value("generated_tokens", int64_t{0}) << " |\n"
     << "| positions scored | " << s.value("positions_scored", int64_t{0}) << " |\n"
     << "| supervised steps (KL > kappa) | " << s.value("records", int64_t{0}) << " |\n"
     << "| kept fraction | " << fmt("%.3f", s.value("kept_fraction", 0.0)) << " |\n"
     << "| mean KL of kept steps | " << fmt("%.3f", s.value("mean_kept_kl", 0.0)) << " |\n"
     << "| single-token labels (support size 1) | " << s.value("single_token_labels", int64_t{0}) << " ("
     << fmt("%.3f", s.value("single_token_fraction", 0.0)) << ") |\n"
     << "| supports truncated to K = " << c.sample.k << " | " << s.value("truncated_supports", int64_t{0}) << " |\n"
     << "| KL faults (non-finite) | " << s.value("kl_faults", int64_t{0}) << " |\n"
     << "| rollouts cut at an unshared id | " << s.value("rollouts_cut_at_unshared", int64_t{0}) << " |\n";
  if (s.contains("vocab") && s["vocab"].is_object()) {
    const json& v = s["vocab"];
    md << "| vocabularies: expert, amateur, tokenizer -> shared | " << v.value("expert", int64_t{0}) << ", "
       << v.value("amateur", int64_t{0}) << ", " << v.value("tokenizer", int64_t{0}) << " -> "
       << v.value("shared", int64_t{0}) << " |\n";
  }
  md << "\n";
}

void write_loss_line(std::ostream& md, const std::string& who, const std::vector<json>& m, int64_t planned) {
  if (m.empty()) {
    md << "- " << who << ": " << kDash << " no updates logged yet\n";
    return;
  }
  const double first = m.front().value("loss", 0.0), last = m.back().value("loss", 0.0);
  size_t tail = std::min<size_t>(m.size(), 10);
  double tail_mean = 0;
  for (size_t i = m.size() - tail; i < m.size(); ++i) tail_mean += m[i].value("loss", 0.0);
  tail_mean /= double(tail);
  md << "- " << who << ": " << m.back().value("update", int64_t{0}) << (planned > 0 ? " of " + std::to_string(planned) : "")
     << " updates; loss " << fmt("%.4f", first) << " at the first update, " << fmt("%.4f", last)
     << " at the last (mean of the last " << tail << ": " << fmt("%.4f", tail_mean) << ")\n";
}

}  // namespace

void write_run_header(std::ostream& md, const ExperimentConfig& c) {
  md << "# LightReasoner run report\n\n";
  md << "Run folder `" << c.run.out_dir << "`, config `" << c.source << "`, written " << now_utc() << ".\n\n";
  if (c.models.make_tiny)
    md << "> **Smoke run on tiny random models** (`models.make_tiny = true`): every stage ran, but the models "
          "are random, so the accuracies below mean nothing. Point `models.expert` and `models.amateur` at real "
          "Qwen2.5 checkpoints (see `configs/paper.toml`) for the paper's experiment.\n\n";
  md << "| | |\n| --- | --- |\n"
     << "| expert | `" << c.models.expert << "` |\n| amateur | `" << c.models.amateur << "` |\n"
     << "| device, dtype | " << c.run.device << ", " << c.run.dtype << " |\n"
     << "| kappa, beta, K | " << fmt("%g", c.sample.kl_threshold) << ", " << fmt("%g", c.sample.beta) << ", "
     << c.sample.k << " |\n"
     << "| LoRA | r = " << c.lora.r << ", alpha = " << fmt("%g", c.lora.alpha) << ", dropout " << fmt("%g", c.lora.dropout)
     << " |\n\n";
}

namespace {

// The SFT row's name: which data it trained on (sft.source, in RUN/sft/summary.json).
std::string sft_method(const RunFiles& f) {
  const bool ground_truth = f.sft && f.sft->is_object() && f.sft->value("source", std::string()) == "ground_truth";
  return ground_truth ? "SFT on ground truth" : "Rejection SFT";
}

}  // namespace

void write_accuracy_table(std::ostream& md, const ExperimentConfig& c, const RunFiles& f) {
  md << "## Table 1: accuracy (zero-shot pass@1, %)\n\n";
  md << "| Model |";
  for (const std::string& d : f.datasets) md << " " << md_escape(display_name(d)) << " |";
  md << " AVG. |\n| --- |";
  for (size_t i = 0; i < f.datasets.size(); ++i) md << " ---: |";
  md << " ---: |\n";
  const std::map<std::string, std::string> row_name = {
      {"base", "Expert (base)"}, {"sft", "+ " + sft_method(f)}, {"tuned", "+ LightReasoner"}};
  bool partial = false;
  for (const auto& [key, m] : f.models) write_accuracy_row(md, row_name.at(key), m, f.datasets, partial);
  md << "\n";
  int64_t eval_n = -1;
  for (const auto& [key, m] : f.models)
    for (const auto& [d, nt] : m.n_total) eval_n = std::max(eval_n, nt.first);
  if (eval_n > 0)
    md << "Problems per benchmark: " << (c.eval.limit > 0 ? "the first " + std::to_string(c.eval.limit) : std::string("all"))
       << "; greedy, at most " << c.eval.max_new_tokens << " new tokens; base prompt `" << c.eval.base_prompt
       << "`, tuned prompts `" << c.eval.tuned_prompt << "`. Results per problem: `eval/<model>/<dataset>.jsonl`.\n";
  if (partial) md << "\\* partial: not every problem of the benchmark has a result yet (rerun to finish).\n";
  write_notes(md, accuracy_notes(c, f));
  md << "\n";
}

void write_efficiency_table(std::ostream& md, const ExperimentConfig& c, const RunFiles& f) {
  std::vector<std::string> notes;
  md << "## Table 2: efficiency\n\n";
  md << "| Method | Time | Problems | Tuned tokens |\n| --- | ---: | ---: | ---: |\n";
  if (f.sft) {
    const json& sft = *f.sft;
    md << "| " << sft_method(f) << " | " << duration_text(sft.value("seconds", 0.0))
       << (sft.value("complete", false) ? "" : "*")
       << " | " << count_text(sft.value("problems", int64_t{0})) << " (" << sft.value("kept", int64_t{0})
       << " kept) | " << count_text(sft.value("tuned_tokens", int64_t{0})) << " |\n";
  } else {
    md << "| Rejection SFT | " << kDash << " | " << kDash << " | " << kDash << " |\n";
    notes.push_back(c.sft.enabled ? "SFT: not run yet" : "SFT: the baseline is off (`[sft] enabled = false`)");
  }
  const double s_sample = f.seconds ? f.seconds->value("sample", 0.0) : 0.0;
  const double s_train = f.seconds ? f.seconds->value("train", 0.0) : 0.0;
  if (f.stats) {
    const std::string time = s_sample + s_train > 0 ? duration_text(s_sample + s_train) : std::string(kDash);
    md << "| LightReasoner | " << time << (f.train_done ? "" : "*") << " | "
       << count_text(f.stats->value("problems_done", int64_t{0})) << " | "
       << count_text(f.stats->value("records", int64_t{0})) << " |\n";
  } else {
    md << "| LightReasoner | " << kDash << " | " << kDash << " | " << kDash << " |\n";
    notes.push_back("LightReasoner: not sampled yet (`lightreasoner sample`)");
  }
  md << "\nTime: wall time of rollouts and fine-tuning on this run's device (SFT: its trajectories and "
        "training, from its summary; LightReasoner: the sample stage "
     << duration_text(s_sample) << " + the train stage " << duration_text(s_train)
     << ", model loading included), summed over resumed calls; device `" << c.run.device
     << "`. Problems: training problems rolled out. Tuned tokens: the positions that carry loss (SFT: every "
        "token of the kept trajectories; LightReasoner: the selected steps).";
  if (!f.train_done || (f.sft && !f.sft->value("complete", false))) md << " \\* not finished yet.";
  md << "\n";
  write_notes(md, notes);
  md << "\n";
}

void write_sampling_statistics(std::ostream& md, const ExperimentConfig& c, const RunFiles& f) {
  md << "## Sampling statistics\n\n";
  if (!f.stats) {
    md << kDash << " no sampling statistics yet (`lightreasoner sample` writes `supervision.stats.json`).\n\n";
    return;
  }
  const json& s = *f.stats;
  const int64_t records = s.value("records", int64_t{0});
  write_sampling_counts(md, c, s);
  if (s.contains("kl_histogram")) write_kl_histogram(md, s["kl_histogram"]);
  if (s.contains("support_histogram") && s["support_histogram"].is_object() && records > 0)
    write_support_sizes(md, s["support_histogram"], records);
}

void write_training(std::ostream& md, const ExperimentConfig& c, const RunFiles& f) {
  md << "## Training\n\n";
  write_loss_line(md, "LightReasoner (KL(v ‖ p_θ) at the kept steps)", f.lr_metrics, c.train.updates);
  if (c.sft.enabled || !f.sft_metrics.empty())
    write_loss_line(md, "SFT (cross-entropy on the kept trajectories)", f.sft_metrics,
                    f.sft ? f.sft->value("updates", int64_t{0}) : 0);
  md << "\n";
}

}  // namespace lr::driver
