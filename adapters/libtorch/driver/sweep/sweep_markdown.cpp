// RUN/sweep.md from RUN/sweep.json's document: the accuracy table, the
// paired comparisons, the verdict, what is missing, and the diagnostics.
#include <sstream>
#include <string>

#include "report/diagnostics_section.h"
#include "report/text_format.h"
#include "sweep/sweep_table.h"

namespace lr::driver {

namespace {

using ojson = nlohmann::ordered_json;

// "31.2 ± 1.4 (n=3)", "31.2 (n=1)", or "—" without a run.
std::string spread_cell(const ojson& s) {
  if (s["n"].get<int64_t>() == 0) return kDash;
  std::string cell = fmt("%.1f", s["mean"].get<double>());
  if (!s["sd"].is_null()) cell += " ± " + fmt("%.1f", s["sd"].get<double>());
  return cell + " (n=" + std::to_string(s["n"].get<int64_t>()) + ")";
}

// "+1.8 ± 0.5 (n=3; 12 W / 5 L)".
std::string paired_cell(const ojson& p) {
  if (p["n"].get<int64_t>() == 0) return kDash;
  std::string cell = fmt("%+.1f", p["mean"].get<double>());
  if (!p["se"].is_null()) cell += " ± " + fmt("%.1f", p["se"].get<double>());
  return cell + " (n=" + std::to_string(p["n"].get<int64_t>()) + "; " + std::to_string(p["wins"].get<int64_t>()) +
         " W / " + std::to_string(p["losses"].get<int64_t>()) + " L)";
}

// The header row and its rule: `first` columns, one per dataset, `last` columns ("a | b" is two).
std::string header(const ojson& t, const std::string& first, const std::string& last) {
  std::string h = "| " + first;
  for (const ojson& d : t["datasets"]) h += " | " + display_name(d.get<std::string>());
  if (!last.empty()) h += " | " + last;
  std::string rule = "|";
  for (char ch : h)
    if (ch == '|') rule += " --- |";
  return h + " |\n" + rule + "\n";
}

std::string accuracy_section(const ojson& t) {
  std::string md = "## Accuracy\n\nPercent; mean ± sample standard deviation over seeds (n seeds). Average: per "
                   "seed over the datasets, then over seeds. Δ: the average's difference from base's, in points.\n\n";
  md += header(t, "variant | description", "average | Δ vs base");
  for (const ojson& row : t["rows"]) {
    md += "| " + md_escape(row["variant"].get<std::string>()) + " | " + md_escape(row["description"].get<std::string>());
    for (const ojson& d : t["datasets"]) md += " | " + spread_cell(row["accuracy"][d.get<std::string>()]);
    md += " | " + spread_cell(row["average"]) + " | ";
    md += row["variant"] == "base" || row["delta_vs_base"].is_null() ? std::string(kDash)
                                                                     : fmt("%+.1f", row["delta_vs_base"].get<double>());
    md += " |\n";
  }
  return md;
}

std::string paired_section(const ojson& t) {
  std::string md = "\n## Paired with base\n\nThe mean over seeds of (variant − base) ± its standard error, in "
                   "points; W / L: problems right only with the variant / only with base, summed over seeds.\n\n";
  md += header(t, "variant", "");
  for (const ojson& row : t["rows"]) {
    if (!row.contains("vs_base")) continue;
    md += "| " + md_escape(row["variant"].get<std::string>());
    for (const ojson& d : t["datasets"]) md += " | " + paired_cell(row["vs_base"][d.get<std::string>()]);
    md += " |\n";
  }
  if (t["lightreasoner_vs_sft"].is_null()) return md;
  md += "\n## LightReasoner paired with SFT\n\nThe same, for (lightreasoner − sft) seed by seed.\n\n";
  md += header(t, "comparison", "") + "| lightreasoner − sft";
  for (const ojson& d : t["datasets"]) md += " | " + paired_cell(t["lightreasoner_vs_sft"][d.get<std::string>()]);
  return md + " |\n";
}

std::string notes_section(const ojson& t) {
  std::string md;
  for (const ojson& row : t["rows"])
    for (const ojson& n : row["notes"]) md += "- " + n.get<std::string>() + "\n";
  return md.empty() ? "" : "\n## Missing (shown as " + std::string(kDash) + " or left out of n)\n\n" + md;
}

// The run's diagnostics as the report shows them (report/diagnostics_section.h).
std::string diagnostics_section(const ojson& t) {
  if (t["diagnostics"].is_null()) return "";
  std::ostringstream md;
  md << "\n";
  write_diagnostics(md, nlohmann::json::parse(t["diagnostics"].dump()));
  return md.str();
}

}  // namespace

std::string sweep_markdown(const ojson& t) {
  std::string seeds;
  for (const ojson& s : t["seeds"]) seeds += (seeds.empty() ? "" : ", ") + s.dump();
  std::string md = "# Sweep\n\nEach variant with seeds " + seeds +
                   ", one run folder each (sweep/<variant>/seed-<s>/; base evaluated once in sweep/base/). "
                   "Rewrite with `lightreasoner sweep --config FILE --table-only`.\n\n";
  md += accuracy_section(t) + paired_section(t);
  md += "\n## Verdict\n\n" + t["verdict"].get<std::string>() + "\n";
  return md + notes_section(t) + diagnostics_section(t);
}

}  // namespace lr::driver
