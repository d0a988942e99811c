#include "report/diagnostics_section.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "report/text_format.h"

namespace lr::driver {

namespace {

using json = nlohmann::json;

// A number at a JSON path, or NaN when it is missing (printed as "—").
double num(const json& j, const json::json_pointer& p) {
  return j.contains(p) && j.at(p).is_number() ? j.at(p).get<double>() : std::nan("");
}

std::string cell(double v, const char* format) { return std::isnan(v) ? std::string(kDash) : fmt(format, v); }
std::string count_cell(const json& d, const char* path) { return cell(num(d, json::json_pointer(path)), "%.0f"); }
std::string real_cell(const json& d, const char* path, const char* format = "%.3f") {
  return cell(num(d, json::json_pointer(path)), format);
}
std::string percent_cell(const json& d, const char* path) { return cell(100 * num(d, json::json_pointer(path)), "%.1f %%"); }

// "a of b" for a gold-walk count over its base count, all positions and kept ones.
std::string of(const json& d, const char* part, const char* whole) {
  const std::string all = "/gold/all/", kept = "/gold/kept/";
  return count_cell(d, (all + part).c_str()) + " of " + count_cell(d, (all + whole).c_str()) + " (kept: " +
         count_cell(d, (kept + part).c_str()) + " of " + count_cell(d, (kept + whole).c_str()) + ")";
}

void write_table(std::ostream& md, const json& d) {
  md << "| diagnostic | value |\n| --- | ---: |\n";
  md << "| KL(p_E ‖ p_A) p10 / p25 / p50 / p75 / p90, mean (nats) | " << real_cell(d, "/rollouts/kl/p10") << " / "
     << real_cell(d, "/rollouts/kl/p25") << " / " << real_cell(d, "/rollouts/kl/p50") << " / "
     << real_cell(d, "/rollouts/kl/p75")
     << " / " << real_cell(d, "/rollouts/kl/p90") << ", " << real_cell(d, "/rollouts/kl/mean") << " |\n";
  md << "| positions kept at kappa | " << count_cell(d, "/rollouts/kept") << " of " << count_cell(d, "/rollouts/positions")
     << " (" << percent_cell(d, "/rollouts/kept_fraction") << ") |\n";
  md << "| support size: mean, size 1 (all positions) | " << real_cell(d, "/rollouts/support/mean", "%.2f") << ", "
     << percent_cell(d, "/rollouts/support/single_fraction") << " |\n";
  md << "| support size: mean, size 1 (kept positions) | " << real_cell(d, "/rollouts/support_kept/mean", "%.2f") << ", "
     << percent_cell(d, "/rollouts/support_kept/single_fraction") << " |\n";
  md << "| target's top ≠ expert's top (all / kept positions) | "
     << percent_cell(d, "/rollouts/target_top_differs/all_fraction") << " / "
     << percent_cell(d, "/rollouts/target_top_differs/kept_fraction") << " |\n";
  md << "| greedy accuracy: expert / decoding from the target | " << percent_cell(d, "/decoding/expert_greedy/accuracy")
     << " / " << percent_cell(d, "/decoding/target_greedy/accuracy") << " |\n";
  md << "| correct expert tokens the target overturns | " << of(d, "overturned", "correct_tokens") << " |\n";
  md << "| expert's first errors the target fixes | " << of(d, "fixed", "first_errors") << " |\n";
  md << "| first errors where the amateur's top is gold | " << of(d, "amateur_right", "first_errors") << " |\n\n";
}

void write_sentence(std::ostream& md, const json& d) {
  md << "On " << count_cell(d, "/problems") << " validation problems the expert's greedy rollouts have a median KL of "
     << real_cell(d, "/rollouts/kl/p50") << " nats (p90 " << real_cell(d, "/rollouts/kl/p90") << "), and "
     << percent_cell(d, "/rollouts/kept_fraction") << " of their positions pass kappa = "
     << real_cell(d, "/settings/kl_threshold", "%g")
     << ". Decoding greedily from the contrastive target scores " << percent_cell(d, "/decoding/target_greedy/accuracy")
     << " against the expert's own " << percent_cell(d, "/decoding/expert_greedy/accuracy")
     << ". Along the gold solutions the target overturns " << of(d, "overturned", "correct_tokens")
     << " correct expert tokens and fixes " << of(d, "fixed", "first_errors")
     << " of the expert's first errors; the amateur's top token is the gold one at "
     << of(d, "amateur_right", "first_errors") << " first errors.\n\n";
}

}  // namespace

void write_diagnostics(std::ostream& md, const std::optional<json>& diagnostics) {
  md << "## Diagnostics\n\n";
  if (!diagnostics || !diagnostics->is_object()) {
    md << kDash << " not run (`lightreasoner diagnose`, or `[diagnostics] enabled = true` in `run`).\n\n";
    return;
  }
  write_table(md, *diagnostics);
  write_sentence(md, *diagnostics);
}

}  // namespace lr::driver
