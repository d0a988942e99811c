#include "report/report.h"

#include <filesystem>
#include <sstream>

#include "io/atomic_file.h"
#include "io/run_layout.h"
#include "report/diagnostics_section.h"
#include "report/plots.h"
#include "report/run_files.h"
#include "report/tables.h"
#include "report/text_format.h"

namespace lr::driver {

std::string write_report(const ExperimentConfig& c) {
  const RunLayout run(c.run.out_dir);
  std::filesystem::create_directories(run.root());
  const RunFiles files = read_run_files(c);
  std::ostringstream md;
  write_run_header(md, c);
  write_accuracy_table(md, c, files);
  write_efficiency_table(md, c, files);
  write_sampling_statistics(md, c, files);
  write_diagnostics(md, files.diagnostics);
  write_training(md, c, files);
  md << "## Plots\n\n";
  if (!c.report.plots) {
    md << kDash << " off (`[report] plots = false`).\n";
  } else {
    const PlotSet plots = draw_plots(c, files);
    for (const auto& [file, caption] : plots.made) md << "![" << caption << "](plots/" << file << ")\n\n";
    for (const std::string& n : plots.notes) md << "- " << kDash << " " << n << "\n";
  }
  write_file_atomically(run.report().string(), md.str());
  return run.report().string();
}

}  // namespace lr::driver
