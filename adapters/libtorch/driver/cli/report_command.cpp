// lightreasoner report --config FILE [--set key=value ...]
// RUN/report.md: the run's results in the shape of the paper's Table 1
// (accuracy per benchmark for the base expert, the SFT baseline and
// LightReasoner, with their average) and Table 2 (time, problems and tuned
// tokens of SFT and LightReasoner), the sampling statistics, the training
// curves, and PNG plots in RUN/plots/ drawn by gnuplot (pngcairo) from a
// generated script kept beside them (plots.gp and its .dat files).
// Whatever a stage has not produced yet is shown as "—" with a note.
#include <spawn.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "commands.h"
#include "config/experiment_config.h"
#include "stages.h"

extern char** environ;

namespace lr::driver::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kDash = "—";

struct ReportArgs {
  std::string config;
  std::vector<std::string> overrides;
};

std::optional<json> read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::vector<json> read_jsonl(const fs::path& path) {
  std::vector<json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// The paper's names for the bundled benchmarks; others as configured.
std::string display_name(const std::string& dataset) {
  static const std::map<std::string, std::string> names = {
      {"gsm8k", "GSM8K"}, {"math", "MATH"}, {"svamp", "SVAMP"}, {"asdiv", "ASDiv"},
      {"minerva_math", "Minerva Math"}, {"olympiadbench", "OlympiadBench"}, {"mmlu_stem", "MMLU-STEM"}};
  const auto it = names.find(dataset);
  return it == names.end() ? dataset : it->second;
}

std::string duration_text(double s) {
  if (s < 120) return fmt("%.1f s", s);
  if (s < 7200) return fmt("%.1f min", s / 60);
  return fmt("%.2f h", s / 3600);
}

// 1770000 -> "1.77M (1,770,000)"; small counts as they are.
std::string count_text(int64_t n) {
  std::string digits = std::to_string(n), grouped;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) grouped += ",";
    grouped += digits[i];
  }
  if (n < 10000) return grouped;
  return fmt("%.2fM", double(n) / 1e6) + " (" + grouped + ")";
}

std::string md_escape(std::string s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += "\\|";
    else if (ch == '\n') out += ' ';
    else out += ch;
  }
  return out;
}

// One evaluated model: accuracy (percent) per dataset, from summary.json.
struct ModelScores {
  bool present = false;
  std::map<std::string, double> accuracy;  // percent
  std::map<std::string, std::pair<int64_t, int64_t>> n_total;
  bool complete = false;
};

ModelScores read_scores(const fs::path& run, const std::string& model) {
  ModelScores m;
  const auto s = read_json(run / "eval" / model / "summary.json");
  if (!s || !s->contains("datasets") || !(*s)["datasets"].is_object()) return m;
  m.present = true;
  m.complete = s->value("complete", false);
  for (const auto& [name, d] : (*s)["datasets"].items()) {
    if (!d.is_object() || d.value("n", int64_t{0}) == 0) continue;
    m.accuracy[name] = 100.0 * d.value("accuracy", 0.0);
    m.n_total[name] = {d.value("n", int64_t{0}), d.value("total", int64_t{0})};
  }
  return m;
}

// ---- gnuplot

std::string gp_quote(const std::string& s) {  // a single-quoted gnuplot string
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

std::optional<std::string> find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    const fs::path p = fs::path(dir.empty() ? "." : dir) / name;
    std::error_code ec;
    if (fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return std::nullopt;
}

// Runs `gnuplot script` with its output in `log`; the exit status, or -1.
int run_gnuplot(const std::string& gnuplot, const fs::path& script, const fs::path& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::string arg0 = gnuplot, arg1 = script.string();
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, gnuplot.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char* kColors[] = {"#8c8c8c", "#4c72b0", "#dd8452", "#55a868"};

struct PlotSet {
  std::vector<std::pair<std::string, std::string>> made;  // file, caption
  std::vector<std::string> notes;
};

// Writes the data files and the script, runs gnuplot; the PNGs made.
PlotSet draw_plots(const ExperimentConfig& c, const fs::path& run, const std::optional<json>& stats,
                   const std::vector<json>& lr_metrics, const std::vector<json>& sft_metrics,
                   const std::vector<std::string>& datasets, const std::vector<std::pair<std::string, ModelScores>>& models) {
  PlotSet out;
  const fs::path dir = run / "plots";
  fs::create_directories(dir);
  std::ostringstream gp;
  gp << "# Written by `lightreasoner report`; rerun with: gnuplot " << (dir / "plots.gp").string() << "\n"
     << "set terminal pngcairo size 900,540 enhanced font 'DejaVu Sans,11'\n"
     << "set encoding utf8\nset grid ytics lc rgb '#dddddd'\nset border 3\nset tics nomirror\n"
     << "set key top right\n";
  std::vector<std::pair<std::string, std::string>> planned;

  // 1. KL distribution over every scored position, in the store's fixed bins.
  if (stats && stats->contains("kl_histogram")) {
    const json& h = (*stats)["kl_histogram"];
    const std::vector<double> edges = h.value("upper_edges", std::vector<double>{});
    const std::vector<int64_t> counts = h.value("counts", std::vector<int64_t>{});
    int64_t total = 0;
    for (int64_t x : counts) total += x;
    if (!counts.empty() && total > 0) {
      std::ofstream dat(dir / "kl_histogram.dat");
      dat << "# bin\tlabel\tpositions\tfraction\tabove_kappa\n";
      for (size_t i = 0; i < counts.size(); ++i) {
        const double lo = i == 0 ? 0.0 : edges[i - 1];
        std::string label = i < edges.size() ? fmt("%g", lo) + "–" + fmt("%g", edges[i]) : "≥ " + fmt("%g", lo);
        const bool above = lo >= c.sample.kl_threshold;
        dat << i << "\t\"" << label << "\"\t" << counts[i] << "\t" << double(counts[i]) / double(total) << "\t"
            << (above ? 1 : 0) << "\n";
      }
      const std::string png = (dir / "kl_histogram.png").string();
      gp << "\n# KL(p_E || p_A) of every scored position\nset output " << gp_quote(png) << "\n"
         << "set title " << gp_quote("KL(p_E || p_A) at every scored position (" + std::to_string(total) +
                                     " positions; kappa = " + fmt("%g", c.sample.kl_threshold) + ")") << "\n"
         << "set xlabel 'KL (nats)'\nset ylabel 'fraction of positions'\nset yrange [0:*]\nset xrange [-0.6:"
         << counts.size() - 0.4 << "]\n"
         << "set style fill solid 0.85 border -1\nset boxwidth 0.8\nset xtics rotate by -30\n"
         << "plot " << gp_quote((dir / "kl_histogram.dat").string())
         << " using 1:($5 == 0 ? $4 : 1/0):xtic(2) with boxes lc rgb '" << kColors[0] << "' title 'below kappa', \\\n"
         << "     '' using 1:($5 == 1 ? $4 : 1/0) with boxes lc rgb '" << kColors[1]
         << "' title 'above kappa (kept)'\n"
         << "set xtics norotate autofreq nomirror\nset xrange [*:*]\nset yrange [*:*]\n";
      planned.push_back({"kl_histogram.png", "KL(p_E ‖ p_A) at every scored position, in the supervision file's bins"});
    } else {
      out.notes.push_back("KL histogram: no scored positions yet");
    }
  } else {
    out.notes.push_back("KL histogram: no sampling statistics (RUN/supervision.stats.json) yet");
  }

  // 2. Training loss: LightReasoner's KL(v || p_theta) and SFT's cross-entropy.
  // update, loss, and the mean of the last `window` losses (window = 1/20 of the run).
  auto write_curve = [&](const std::vector<json>& metrics, const std::string& name) {
    std::vector<std::pair<int64_t, double>> pts;
    for (const json& m : metrics)
      if (m.contains("update") && m.contains("loss") && m["loss"].is_number())
        pts.push_back({m["update"].get<int64_t>(), m["loss"].get<double>()});
    const size_t window = std::max<size_t>(1, pts.size() / 20);
    std::ofstream dat(dir / name);
    dat << "# update\tloss\trunning mean (" << window << " updates)\n";
    double sum = 0;
    for (size_t i = 0; i < pts.size(); ++i) {
      sum += pts[i].second;
      if (i >= window) sum -= pts[i - window].second;
      dat << pts[i].first << "\t" << pts[i].second << "\t" << sum / double(std::min(i + 1, window)) << "\n";
    }
  };
  // The raw loss (points when there are few updates) and its running mean.
  auto curve = [&](const std::string& file, size_t n, const char* color) {
    const std::string q = gp_quote((dir / file).string());
    std::string s = q + " using 1:2 with " + (n < 60 ? "linespoints pt 7 ps 0.7" : "lines") + " lw 1 lc rgb '" +
                    color + "' " + (n >= 40 ? "title 'per update'" : "notitle");
    if (n >= 40) s += ", \\\n     " + q + " using 1:3 with lines lw 2.5 lc rgb '#222222' title 'running mean'";
    return s;
  };
  if (!lr_metrics.empty() || !sft_metrics.empty()) {
    const std::string png = (dir / "train_loss.png").string();
    gp << "\n# training loss per update\nset output " << gp_quote(png) << "\n"
       << "set xlabel 'update'\nset key top right\n";
    if (!lr_metrics.empty()) write_curve(lr_metrics, "train_loss_lightreasoner.dat");
    if (!sft_metrics.empty()) write_curve(sft_metrics, "train_loss_sft.dat");
    if (!lr_metrics.empty() && !sft_metrics.empty()) {
      gp << "set multiplot layout 1,2 title 'Training loss per update'\n"
         << "set title 'LightReasoner: KL(v || p_θ) at kept steps'\nset ylabel 'loss'\n"
         << "plot " << curve("train_loss_lightreasoner.dat", lr_metrics.size(), kColors[3]) << "\n"
         << "set title 'SFT: cross-entropy on trajectory tokens'\n"
         << "plot " << curve("train_loss_sft.dat", sft_metrics.size(), kColors[2]) << "\nunset multiplot\n";
    } else {
      const bool lr = !lr_metrics.empty();
      gp << "set title " << gp_quote(lr ? "LightReasoner training loss: KL(v || p_θ) at kept steps"
                                         : "SFT training loss: cross-entropy on trajectory tokens")
         << "\nset ylabel 'loss'\n"
         << "plot "
         << curve(lr ? "train_loss_lightreasoner.dat" : "train_loss_sft.dat", (lr ? lr_metrics : sft_metrics).size(),
                  kColors[lr ? 3 : 2])
         << "\n";
    }
    gp << "set title\nset xlabel\nset ylabel\n";
    planned.push_back({"train_loss.png", "training loss per update"});
  } else {
    out.notes.push_back("training loss: no train_metrics.jsonl yet");
  }

  // 3. Accuracy bars per benchmark and model.
  std::vector<std::pair<std::string, ModelScores>> with_scores;
  for (const auto& m : models)
    if (!m.second.accuracy.empty()) with_scores.push_back(m);
  if (!with_scores.empty() && !datasets.empty()) {
    std::ofstream dat(dir / "accuracy.dat");
    dat << "# benchmark";
    for (const auto& m : with_scores) dat << "\t\"" << m.first << "\"";
    dat << "\n";
    for (const std::string& d : datasets) {
      dat << "\"" << display_name(d) << "\"";
      for (const auto& m : with_scores) {
        const auto it = m.second.accuracy.find(d);
        dat << "\t" << (it == m.second.accuracy.end() ? std::string("NaN") : fmt("%.4f", it->second));
      }
      dat << "\n";
    }
    const std::string png = (dir / "accuracy.png").string();
    gp << "\n# accuracy per benchmark\nset output " << gp_quote(png) << "\n"
       << "set title 'Zero-shot pass@1 accuracy (%)' noenhanced\nset ylabel 'accuracy (%)'\nset yrange [0:105]\n"
       << "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.85 border -1\n"
       << "set boxwidth 0.9\nset key top right\nplot ";
    for (size_t i = 0; i < with_scores.size(); ++i) {
      const std::string& name = with_scores[i].first;
      const char* color = name == "base" ? kColors[0] : name == "sft" ? kColors[2] : kColors[3];
      gp << (i ? ", \\\n     '' " : gp_quote((dir / "accuracy.dat").string())) << " using " << i + 2
         << (i == 0 ? ":xtic(1)" : "") << " lc rgb '" << color << "' title "
         << gp_quote(name == "base" ? "base expert" : name == "sft" ? "+ rejection SFT" : "+ LightReasoner");
    }
    // The values above the bars (a 0 would otherwise not show).
    const size_t nm = with_scores.size();
    for (size_t i = 0; i < nm; ++i)
      gp << ", \\\n     '' using ($0 + (" << double(i) - double(nm - 1) / 2.0 << ") / " << nm + 1 << ".0):"
         << i + 2 << ":(sprintf('%.1f', $" << i + 2 << ")) with labels offset 0,0.8 notitle";
    gp << "\nset yrange [*:*]\n";
    planned.push_back({"accuracy.png", "zero-shot accuracy per benchmark"});
  } else {
    out.notes.push_back("accuracy: no evaluation summary yet");
  }

  if (planned.empty()) return out;
  const fs::path script = dir / "plots.gp";
  {
    std::ofstream f(script, std::ios::trunc);
    f << gp.str();
  }
  const auto gnuplot = find_program("gnuplot");
  if (!gnuplot) {
    out.notes.push_back("plots not drawn: gnuplot is not installed (`apt-get install gnuplot-nox`, or "
                        "`bash scripts/install_deps.sh`); the script and data are in " + dir.string());
    return out;
  }
  for (const auto& [file, caption] : planned) fs::remove(dir / file);
  const int rc = run_gnuplot(*gnuplot, script, dir / "gnuplot.log");
  if (rc != 0)
    out.notes.push_back("gnuplot exited with status " + std::to_string(rc) + " (its messages: " +
                        (dir / "gnuplot.log").string() + ")");
  for (const auto& [file, caption] : planned) {
    std::error_code ec;
    if (fs::exists(dir / file, ec) && fs::file_size(dir / file, ec) > 0) out.made.push_back({file, caption});
    else out.notes.push_back(file + " was not drawn (see " + (dir / "gnuplot.log").string() + ")");
  }
  return out;
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

}  // namespace

std::string write_report(const ExperimentConfig& c) {
  const fs::path run(c.run.out_dir);
  fs::create_directories(run);
  std::ostringstream md;
  std::vector<std::string> notes;

  // ---- inputs
  const std::optional<json> stats = read_json(run / "supervision.stats.json");
  const std::optional<json> seconds = read_json(run / "stage_seconds.json");
  const std::optional<json> train_done = read_json(run / "train" / "complete.json");
  const std::optional<json> sft = read_json(run / "sft" / "summary.json");
  const std::vector<json> lr_metrics = read_jsonl(run / "train_metrics.jsonl");
  const std::vector<json> sft_metrics = read_jsonl(run / "sft" / "train_metrics.jsonl");
  std::vector<std::string> datasets;
  for (const EvalDataset& d : c.eval.datasets) datasets.push_back(d.name);
  const std::vector<std::pair<std::string, ModelScores>> models = {
      {"base", read_scores(run, "base")}, {"sft", read_scores(run, "sft")}, {"tuned", read_scores(run, "tuned")}};

  md << "# LightReasoner run report\n\n";
  md << "Run folder `" << run.string() << "`, config `" << c.source << "`, written " << now_utc() << ".\n\n";
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

  // ---- Table 1
  md << "## Table 1: accuracy (zero-shot pass@1, %)\n\n";
  md << "| Model |";
  for (const std::string& d : datasets) md << " " << md_escape(display_name(d)) << " |";
  md << " AVG. |\n| --- |";
  for (size_t i = 0; i < datasets.size(); ++i) md << " ---: |";
  md << " ---: |\n";
  const std::map<std::string, std::string> row_name = {
      {"base", "Expert (base)"}, {"sft", "+ Rejection SFT"}, {"tuned", "+ LightReasoner"}};
  bool partial = false;
  for (const auto& [key, m] : models) {
    md << "| " << row_name.at(key) << " |";
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
  md << "\n";
  int64_t eval_n = -1;
  for (const auto& [key, m] : models)
    for (const auto& [d, nt] : m.n_total) eval_n = std::max(eval_n, nt.first);
  if (eval_n > 0)
    md << "Problems per benchmark: " << (c.eval.limit > 0 ? "the first " + std::to_string(c.eval.limit) : std::string("all"))
       << "; greedy, at most " << c.eval.max_new_tokens << " new tokens; base prompt `" << c.eval.base_prompt
       << "`, tuned prompts `" << c.eval.tuned_prompt << "`. Results per problem: `eval/<model>/<dataset>.jsonl`.\n";
  if (partial) md << "\\* partial: not every problem of the benchmark has a result yet (rerun to finish).\n";
  if (!models[0].second.present) notes.push_back("base: not evaluated yet (`lightreasoner eval --model base`)");
  if (!models[2].second.present)
    notes.push_back(fs::exists(run / "adapter") ? "LightReasoner: trained but not evaluated yet (`lightreasoner eval`)"
                                                : "LightReasoner: not trained yet (`lightreasoner train`)");
  if (!models[1].second.present) {
    if (!c.sft.enabled) notes.push_back("SFT: the baseline is off (`[sft] enabled = false`)");
    else if (sft && sft->value("kept", int64_t{-1}) == 0)
      notes.push_back("SFT: no trajectory was graded correct, so there is no SFT model to evaluate");
    else if (!sft) notes.push_back("SFT: not run yet (`lightreasoner sft`)");
    else notes.push_back("SFT: not evaluated yet (`lightreasoner eval --model sft`)");
  }
  for (const std::string& n : notes) md << "- " << kDash << " " << n << "\n";
  notes.clear();
  md << "\n";

  // ---- Table 2
  md << "## Table 2: efficiency\n\n";
  md << "| Method | Time | Problems | Tuned tokens |\n| --- | ---: | ---: | ---: |\n";
  // SFT
  if (sft) {
    const int64_t problems = sft->value("problems", int64_t{0});
    md << "| Rejection SFT | " << duration_text(sft->value("seconds", 0.0)) << (sft->value("complete", false) ? "" : "*")
       << " | " << count_text(problems) << " (" << sft->value("kept", int64_t{0}) << " kept) | "
       << count_text(sft->value("tuned_tokens", int64_t{0})) << " |\n";
  } else {
    md << "| Rejection SFT | " << kDash << " | " << kDash << " | " << kDash << " |\n";
    notes.push_back(c.sft.enabled ? "SFT: not run yet" : "SFT: the baseline is off (`[sft] enabled = false`)");
  }
  // LightReasoner
  const double s_sample = seconds ? seconds->value("sample", 0.0) : 0.0;
  const double s_train = seconds ? seconds->value("train", 0.0) : 0.0;
  if (stats) {
    const int64_t problems = stats->value("problems_done", int64_t{0});
    const int64_t records = stats->value("records", int64_t{0});
    const std::string time = s_sample + s_train > 0 ? duration_text(s_sample + s_train) : std::string(kDash);
    md << "| LightReasoner | " << time << (train_done ? "" : "*") << " | " << count_text(problems) << " | "
       << count_text(records) << " |\n";
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
  if (!train_done || (sft && !sft->value("complete", false))) md << " \\* not finished yet.";
  md << "\n";
  for (const std::string& n : notes) md << "- " << kDash << " " << n << "\n";
  notes.clear();
  md << "\n";

  // ---- sampling statistics
  md << "## Sampling statistics\n\n";
  if (stats) {
    const json& s = *stats;
    const int64_t records = s.value("records", int64_t{0});
    md << "| | |\n| --- | ---: |\n"
       << "| problems done | " << s.value("problems_done", int64_t{0}) << " |\n"
       << "| generated tokens | " << s.value("generated_tokens", int64_t{0}) << " |\n"
       << "| positions scored | " << s.value("positions_scored", int64_t{0}) << " |\n"
       << "| supervised steps (KL > kappa) | " << records << " |\n"
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
    if (s.contains("kl_histogram")) {
      const std::vector<double> edges = s["kl_histogram"].value("upper_edges", std::vector<double>{});
      const std::vector<int64_t> counts = s["kl_histogram"].value("counts", std::vector<int64_t>{});
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
    if (s.contains("support_histogram") && s["support_histogram"].is_object() && records > 0) {
      std::vector<std::pair<int64_t, int64_t>> sizes;
      for (const auto& [k, v] : s["support_histogram"].items()) sizes.push_back({std::stoll(k), v.get<int64_t>()});
      std::sort(sizes.begin(), sizes.end());
      md << "Support sizes |M| of the kept steps' targets:\n\n| \\|M\\| | steps | fraction |\n| ---: | ---: | ---: |\n";
      for (const auto& [size, n] : sizes)
        md << "| " << size << " | " << n << " | " << fmt("%.3f", double(n) / double(records)) << " |\n";
      md << "\n";
    }
  } else {
    md << kDash << " no sampling statistics yet (`lightreasoner sample` writes `supervision.stats.json`).\n\n";
  }

  // ---- training
  md << "## Training\n\n";
  auto loss_line = [&](const std::string& who, const std::vector<json>& m, int64_t planned) {
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
  };
  loss_line("LightReasoner (KL(v ‖ p_θ) at the kept steps)", lr_metrics, c.train.updates);
  if (c.sft.enabled || !sft_metrics.empty())
    loss_line("SFT (cross-entropy on the kept trajectories)", sft_metrics, sft ? sft->value("updates", int64_t{0}) : 0);
  md << "\n";

  // ---- plots
  md << "## Plots\n\n";
  if (!c.report.plots) {
    md << kDash << " off (`[report] plots = false`).\n";
  } else {
    const PlotSet plots = draw_plots(c, run, stats, lr_metrics, sft_metrics, datasets, models);
    for (const auto& [file, caption] : plots.made) md << "![" << caption << "](plots/" << file << ")\n\n";
    for (const std::string& n : plots.notes) md << "- " << kDash << " " << n << "\n";
  }

  const fs::path path = run / "report.md";
  const fs::path tmp = run / "report.md.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << md.str();
    if (!out) throw std::runtime_error(tmp.string() + ": cannot write");
  }
  fs::rename(tmp, path);
  return path.string();
}

namespace {

void run_report(const ReportArgs& args) {
  const std::string path = write_report(load_config(args.config, args.overrides));
  std::cerr << "report: " << path << "\n";
  std::cout << path << "\n";
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report", "RUN/report.md: Table 1 (accuracy: base / SFT / LightReasoner) and Table 2 (time, problems, tuned "
                "tokens), sampling statistics, and PNG plots in RUN/plots/ (gnuplot)");
  cmd->add_option("--config", args->config, "experiment TOML (see adapters/libtorch/driver/configs/)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->overrides, "override a config key (repeatable)");
  cmd->callback([args] { run_report(*args); });
}

}  // namespace lr::driver::cli
