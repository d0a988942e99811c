#include "sweep/sweep_stats.h"

#include <cmath>

namespace lr::driver {

Spread spread_of(const std::vector<double>& values) {
  Spread s;
  s.n = static_cast<int64_t>(values.size());
  if (values.empty()) return s;
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / double(s.n);
  if (s.n < 2) return s;
  double squares = 0;
  for (double v : values) squares += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(squares / double(s.n - 1));
  return s;
}

Paired paired_of(const std::vector<double>& differences, int64_t wins, int64_t losses) {
  const Spread s = spread_of(differences);
  Paired p;
  p.n = s.n;
  p.mean = s.mean;
  if (s.sd) p.se = *s.sd / std::sqrt(double(s.n));
  p.wins = wins;
  p.losses = losses;
  return p;
}

bool clear_difference(const Paired& p) { return p.se && std::fabs(p.mean) > 2 * *p.se; }

}  // namespace lr::driver
