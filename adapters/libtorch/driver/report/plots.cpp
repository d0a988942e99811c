#include "report/plots.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "io/atomic_file.h"
#include "io/run_layout.h"
#include "report/gnuplot.h"
#include "report/png_file.h"
#include "report/text_format.h"

namespace lr::driver {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const char* kColors[] = {"#8c8c8c", "#4c72b0", "#dd8452", "#55a868"};

// The script being written and the plots it will draw.
struct Script {
  fs::path dir;
  std::ostringstream gp;
  std::vector<std::pair<std::string, std::string>> planned;  // file, caption
  std::vector<std::string> notes;
};

// 1. KL distribution over every scored position, in the store's fixed bins.
void kl_histogram(const ExperimentConfig& c, const RunFiles& f, Script& s) {
  if (!f.stats || !f.stats->contains("kl_histogram")) {
    s.notes.push_back("KL histogram: no sampling statistics (RUN/supervision.stats.json) yet");
    return;
  }
  const json& h = (*f.stats)["kl_histogram"];
  const std::vector<double> edges = h.value("upper_edges", std::vector<double>{});
  const std::vector<int64_t> counts = h.value("counts", std::vector<int64_t>{});
  int64_t total = 0;
  for (int64_t x : counts) total += x;
  if (counts.empty() || total <= 0) {
    s.notes.push_back("KL histogram: no scored positions yet");
    return;
  }
  std::ostringstream dat;
  dat << "# bin\tlabel\tpositions\tfraction\tabove_kappa\n";
  for (size_t i = 0; i < counts.size(); ++i) {
    const double lo = i == 0 ? 0.0 : edges[i - 1];
    std::string label = i < edges.size() ? fmt("%g", lo) + "–" + fmt("%g", edges[i]) : "≥ " + fmt("%g", lo);
    const bool above = lo >= c.sample.kl_threshold;
    dat << i << "\t\"" << label << "\"\t" << counts[i] << "\t" << double(counts[i]) / double(total) << "\t"
        << (above ? 1 : 0) << "\n";
  }
  write_file_atomically((s.dir / "kl_histogram.dat").string(), dat.str());
  const std::string png = (s.dir / "kl_histogram.png").string();
  s.gp << "\n# KL(p_E || p_A) of every scored position\nset output " << gp_quote(png) << "\n"
       << "set title " << gp_quote("KL(p_E || p_A) at every scored position (" + std::to_string(total) +
                                   " positions; kappa = " + fmt("%g", c.sample.kl_threshold) + ")") << "\n"
       << "set xlabel 'KL (nats)'\nset ylabel 'fraction of positions'\nset yrange [0:*]\nset xrange [-0.6:"
       << counts.size() - 0.4 << "]\n"
       << "set style fill solid 0.85 border -1\nset boxwidth 0.8\nset xtics rotate by -30\n"
       << "plot " << gp_quote((s.dir / "kl_histogram.dat").string())
       << " using 1:($5 == 0 ? $4 : 1/0):xtic(2) with boxes lc rgb '" << kColors[0] << "' title 'below kappa', \\\n"
       << "     '' using 1:($5 == 1 ? $4 : 1/0) with boxes lc rgb '" << kColors[1]
       << "' title 'above kappa (kept)'\n"
       << "set xtics norotate autofreq nomirror\nset xrange [*:*]\nset yrange [*:*]\n";
  s.planned.push_back({"kl_histogram.png", "KL(p_E ‖ p_A) at every scored position, in the supervision file's bins"});
}

// update, loss, and the mean of the last `window` losses (window = 1/20 of the run).
void write_curve(const fs::path& file, const std::vector<json>& metrics) {
  std::vector<std::pair<int64_t, double>> pts;
  for (const json& m : metrics)
    if (m.contains("update") && m.contains("loss") && m["loss"].is_number())
      pts.push_back({m["update"].get<int64_t>(), m["loss"].get<double>()});
  const size_t window = std::max<size_t>(1, pts.size() / 20);
  std::ostringstream dat;
  dat << "# update\tloss\trunning mean (" << window << " updates)\n";
  double sum = 0;
  for (size_t i = 0; i < pts.size(); ++i) {
    sum += pts[i].second;
    if (i >= window) sum -= pts[i - window].second;
    dat << pts[i].first << "\t" << pts[i].second << "\t" << sum / double(std::min(i + 1, window)) << "\n";
  }
  write_file_atomically(file.string(), dat.str());
}

// The raw loss (points when there are few updates) and its running mean.
std::string curve(const fs::path& dir, const std::string& file, size_t n, const char* color) {
  const std::string q = gp_quote((dir / file).string());
  std::string s = q + " using 1:2 with " + (n < 60 ? "linespoints pt 7 ps 0.7" : "lines") + " lw 1 lc rgb '" +
                  color + "' " + (n >= 40 ? "title 'per update'" : "notitle");
  if (n >= 40) s += ", \\\n     " + q + " using 1:3 with lines lw 2.5 lc rgb '#222222' title 'running mean'";
  return s;
}

// 2. Training loss: LightReasoner's KL(v || p_theta) and SFT's cross-entropy.
void train_loss(const RunFiles& f, Script& s) {
  const std::vector<json>& lr = f.lr_metrics;
  const std::vector<json>& sft = f.sft_metrics;
  if (lr.empty() && sft.empty()) {
    s.notes.push_back("training loss: no train_metrics.jsonl yet");
    return;
  }
  const std::string png = (s.dir / "train_loss.png").string();
  s.gp << "\n# training loss per update\nset output " << gp_quote(png) << "\n"
       << "set xlabel 'update'\nset key top right\n";
  if (!lr.empty()) write_curve(s.dir / "train_loss_lightreasoner.dat", lr);
  if (!sft.empty()) write_curve(s.dir / "train_loss_sft.dat", sft);
  if (!lr.empty() && !sft.empty()) {
    s.gp << "set multiplot layout 1,2 title 'Training loss per update'\n"
         << "set title 'LightReasoner: KL(v || p_θ) at kept steps'\nset ylabel 'loss'\n"
         << "plot " << curve(s.dir, "train_loss_lightreasoner.dat", lr.size(), kColors[3]) << "\n"
         << "set title 'SFT: cross-entropy on trajectory tokens'\n"
         << "plot " << curve(s.dir, "train_loss_sft.dat", sft.size(), kColors[2]) << "\nunset multiplot\n";
  } else {
    const bool is_lr = !lr.empty();
    s.gp << "set title " << gp_quote(is_lr ? "LightReasoner training loss: KL(v || p_θ) at kept steps"
                                           : "SFT training loss: cross-entropy on trajectory tokens")
         << "\nset ylabel 'loss'\n"
         << "plot "
         << curve(s.dir, is_lr ? "train_loss_lightreasoner.dat" : "train_loss_sft.dat", (is_lr ? lr : sft).size(),
                  kColors[is_lr ? 3 : 2])
         << "\n";
  }
  s.gp << "set title\nset xlabel\nset ylabel\n";
  s.planned.push_back({"train_loss.png", "training loss per update"});
}

void write_accuracy_data(const fs::path& file, const std::vector<std::string>& datasets,
                         const std::vector<std::pair<std::string, ModelScores>>& models) {
  std::ostringstream dat;
  dat << "# benchmark";
  for (const auto& m : models) dat << "\t\"" << m.first << "\"";
  dat << "\n";
  for (const std::string& d : datasets) {
    dat << "\"" << display_name(d) << "\"";
    for (const auto& m : models) {
      const auto it = m.second.accuracy.find(d);
      dat << "\t" << (it == m.second.accuracy.end() ? std::string("NaN") : fmt("%.4f", it->second));
    }
    dat << "\n";
  }
  write_file_atomically(file.string(), dat.str());
}

// 3. Accuracy bars per benchmark and model.
void accuracy(const RunFiles& f, Script& s) {
  std::vector<std::pair<std::string, ModelScores>> with_scores;
  for (const auto& m : f.models)
    if (!m.second.accuracy.empty()) with_scores.push_back(m);
  if (with_scores.empty() || f.datasets.empty()) {
    s.notes.push_back("accuracy: no evaluation summary yet");
    return;
  }
  write_accuracy_data(s.dir / "accuracy.dat", f.datasets, with_scores);
  const std::string png = (s.dir / "accuracy.png").string();
  s.gp << "\n# accuracy per benchmark\nset output " << gp_quote(png) << "\n"
       << "set title 'Zero-shot pass@1 accuracy (%)' noenhanced\nset ylabel 'accuracy (%)'\nset yrange [0:105]\n"
       << "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.85 border -1\n"
       << "set boxwidth 0.9\nset key top right\nplot ";
  for (size_t i = 0; i < with_scores.size(); ++i) {
    const std::string& name = with_scores[i].first;
    const char* color = name == "base" ? kColors[0] : name == "sft" ? kColors[2] : kColors[3];
    s.gp << (i ? ", \\\n     '' " : gp_quote((s.dir / "accuracy.dat").string())) << " using " << i + 2
         << (i == 0 ? ":xtic(1)" : "") << " lc rgb '" << color << "' title "
         << gp_quote(name == "base" ? "base expert" : name == "sft" ? "+ rejection SFT" : "+ LightReasoner");
  }
  // The values above the bars (a 0 would otherwise not show).
  const size_t nm = with_scores.size();
  for (size_t i = 0; i < nm; ++i)
    s.gp << ", \\\n     '' using ($0 + (" << double(i) - double(nm - 1) / 2.0 << ") / " << nm + 1 << ".0):" << i + 2
         << ":(sprintf('%.1f', $" << i + 2 << ")) with labels offset 0,0.8 notitle";
  s.gp << "\nset yrange [*:*]\n";
  s.planned.push_back({"accuracy.png", "zero-shot accuracy per benchmark"});
}

// Runs the script; each planned plot is made, or a note says why not.
void run_script(Script& s, PlotSet& out) {
  const fs::path script = s.dir / "plots.gp";
  write_file_atomically(script.string(), s.gp.str());
  const auto gnuplot = find_program("gnuplot");
  if (!gnuplot) {
    out.notes.push_back("plots not drawn: gnuplot is not installed (`apt-get install gnuplot-nox`, or "
                        "`bash scripts/install_deps.sh`); the script and data are in " + s.dir.string());
    return;
  }
  for (const auto& [file, caption] : s.planned) fs::remove(s.dir / file);
  const int rc = run_gnuplot(*gnuplot, script, s.dir / "gnuplot.log");
  if (rc != 0)
    out.notes.push_back("gnuplot exited with status " + std::to_string(rc) + " (its messages: " +
                        (s.dir / "gnuplot.log").string() + ")");
  for (const auto& [file, caption] : s.planned) {
    const fs::path png = s.dir / file;
    std::error_code ec;
    if (is_whole_png(png)) {
      out.made.push_back({file, caption});
    } else if (fs::exists(png, ec)) {  // cut short (a full disk, a killed gnuplot): not a plot
      fs::remove(png, ec);
      out.notes.push_back(png.string() + " was cut short (is the disk full?) and is removed (see " +
                          (s.dir / "gnuplot.log").string() + ")");
    } else {
      out.notes.push_back(file + " was not drawn (see " + (s.dir / "gnuplot.log").string() + ")");
    }
  }
}

}  // namespace

PlotSet draw_plots(const ExperimentConfig& c, const RunFiles& f) {
  Script s;
  s.dir = RunLayout(c.run.out_dir).plots_dir();
  fs::create_directories(s.dir);
  s.gp << "# Written by `lightreasoner report`; rerun with: gnuplot " << (s.dir / "plots.gp").string() << "\n"
       << "set terminal pngcairo size 900,540 enhanced font 'DejaVu Sans,11'\n"
       << "set encoding utf8\nset grid ytics lc rgb '#dddddd'\nset border 3\nset tics nomirror\n"
       << "set key top right\n";
  kl_histogram(c, f, s);
  train_loss(f, s);
  accuracy(f, s);
  PlotSet out;
  out.notes = s.notes;
  if (!s.planned.empty()) run_script(s, out);
  return out;
}

}  // namespace lr::driver
