#include "diagnose/rollout_statistics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace lr::driver {

using ojson = nlohmann::ordered_json;

double linear_quantile(const std::vector<double>& sorted, double q) {
  const double h = static_cast<double>(sorted.size() - 1) * q;
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

namespace {

double fraction(int64_t part, int64_t whole) { return whole > 0 ? double(part) / double(whole) : 0.0; }

ojson kl_summary(std::vector<double> kl) {
  if (kl.empty()) return ojson(nullptr);
  std::sort(kl.begin(), kl.end());
  double sum = 0;
  for (double x : kl) sum += x;
  ojson j;
  static const std::pair<const char*, double> kQuantiles[] = {
      {"p10", 0.10}, {"p25", 0.25}, {"p50", 0.50}, {"p75", 0.75}, {"p90", 0.90}};
  for (const auto& [name, q] : kQuantiles) j[name] = linear_quantile(kl, q);
  j["mean"] = sum / double(kl.size());
  return j;
}

// Histogram, mean and the fraction of size 1 of the support sizes of the
// positions `include` accepts.
template <class Include>
ojson support_summary(const std::vector<std::vector<PositionScore>>& rollouts, Include include) {
  std::map<int64_t, int64_t> histogram;
  int64_t n = 0, sum = 0;
  for (const auto& rollout : rollouts)
    for (const PositionScore& s : rollout)
      if (include(s)) {
        ++histogram[s.support];
        ++n;
        sum += s.support;
      }
  ojson h = ojson::object();
  for (const auto& [size, count] : histogram) h[std::to_string(size)] = count;
  return {{"positions", n},
          {"histogram", h},
          {"mean", n > 0 ? double(sum) / double(n) : 0.0},
          {"single_fraction", fraction(histogram.count(1) ? histogram[1] : 0, n)}};
}

}  // namespace

ojson rollout_statistics(const std::vector<std::vector<PositionScore>>& rollouts) {
  std::vector<double> kl;
  int64_t positions = 0, kept = 0, faults = 0, differs = 0, differs_kept = 0;
  for (const auto& rollout : rollouts)
    for (const PositionScore& s : rollout) {
      ++positions;
      if (!std::isfinite(s.kl)) {
        ++faults;
        continue;
      }
      kl.push_back(s.kl);
      const bool differ = s.target_top != s.expert_top;
      differs += differ;
      if (!s.kept) continue;
      ++kept;
      differs_kept += differ;
    }
  const auto finite = [](const PositionScore& s) { return std::isfinite(s.kl); };
  const auto kept_only = [](const PositionScore& s) { return s.kept && std::isfinite(s.kl); };
  ojson j;
  j["rollouts"] = rollouts.size();
  j["positions"] = positions;
  j["kl_faults"] = faults;
  j["kl"] = kl_summary(std::move(kl));
  j["kept"] = kept;
  j["kept_fraction"] = fraction(kept, positions - faults);
  j["support"] = support_summary(rollouts, finite);
  j["support_kept"] = support_summary(rollouts, kept_only);
  j["target_top_differs"] = {{"all", differs},
                             {"all_fraction", fraction(differs, positions - faults)},
                             {"kept", differs_kept},
                             {"kept_fraction", fraction(differs_kept, kept)}};
  return j;
}

}  // namespace lr::driver
