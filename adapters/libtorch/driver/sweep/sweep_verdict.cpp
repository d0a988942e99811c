// The verdict paragraph: LightReasoner against the base and against SFT on
// the last eval dataset (the test split), from the table's paired numbers,
// saying plainly when a difference is within 2 standard errors.
#include <cstdio>

#include "sweep/sweep_table.h"

namespace lr::driver {

namespace {

using ojson = nlohmann::ordered_json;

std::string points(double v, bool sign = false) {
  char buf[32];
  std::snprintf(buf, sizeof buf, sign ? "%+.1f" : "%.1f", v);
  return buf;
}

std::string counts(const ojson& p, const std::string& other) {
  const int64_t n = p["n"].get<int64_t>();
  return std::to_string(n) + (n == 1 ? " seed" : " seeds") + "; " + std::to_string(p["wins"].get<int64_t>()) +
         " problems right only with LightReasoner, " + std::to_string(p["losses"].get<int64_t>()) + " only with " +
         other;
}

// "LightReasoner beat the base by 2.1 ± 0.4 points (3 seeds; ...)" and its other forms.
std::string comparison(const std::string& other, const ojson& p) {
  if (p.is_null() || p["n"].get<int64_t>() == 0) return "LightReasoner has no complete run paired with " + other;
  const double mean = p["mean"].get<double>();
  if (p["se"].is_null())
    return std::string("LightReasoner ") + (mean > 0 ? "beat " : "did not beat ") + other + " by " +
           points(mean, true) + " points (" + counts(p, other) +
           "); with one seed there is no standard error, so this says nothing either way";
  const std::string se = " ± " + points(p["se"].get<double>()) + " points";
  if (!p["clear"].get<bool>())
    return "LightReasoner did not beat " + other + ": " + points(mean, true) + se + " (" + counts(p, other) +
           ") is within 2 standard errors of 0, no clear difference";
  if (mean > 0) return "LightReasoner beat " + other + " by " + points(mean) + se + " (" + counts(p, other) + ")";
  return "LightReasoner did not beat " + other + ": it was worse by " + points(-mean) + se + " (" +
         counts(p, other) + ")";
}

const ojson* row_named(const ojson& table, const std::string& name) {
  for (const ojson& row : table["rows"])
    if (row["variant"] == name) return &row;
  return nullptr;
}

}  // namespace

std::string sweep_verdict(const ojson& table) {
  const ojson& datasets = table["datasets"];
  if (datasets.empty()) return "No eval dataset: no verdict.";
  const std::string last = datasets.back().get<std::string>();
  const ojson* lr = row_named(table, "lightreasoner");
  if (!lr) return "The sweep has no \"lightreasoner\" row: no verdict.";
  std::string text = "On " + last;
  if (datasets.size() > 1)
    text += " (the last eval dataset, the test split; choices are made on the first, " +
            datasets.front().get<std::string>() + ")";
  text += ": " + comparison("the base", (*lr)["vs_base"][last]);
  const ojson& vs_sft = table["lightreasoner_vs_sft"];
  if (!vs_sft.is_null()) text += ". Against SFT: " + comparison("SFT", vs_sft[last]);
  return text + ".";
}

}  // namespace lr::driver
