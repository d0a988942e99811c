// The statistics of the sweep's table: the spread of a variant's accuracy
// over seeds, and the paired comparison of two variants seed by seed.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace lr::driver {

// Mean and sample standard deviation (n - 1 in the denominator; none for n < 2).
struct Spread {
  int64_t n = 0;
  double mean = 0;
  std::optional<double> sd;
};
Spread spread_of(const std::vector<double>& values);

// The mean over seeds of (a - b) with its standard error (sd / sqrt(n); none
// for n < 2), and per problem: right only with a (wins), right only with b
// (losses), summed over seeds.
struct Paired {
  int64_t n = 0;
  double mean = 0;
  std::optional<double> se;
  int64_t wins = 0;
  int64_t losses = 0;
};
// differences: one (a - b) per seed.
Paired paired_of(const std::vector<double>& differences, int64_t wins, int64_t losses);

// Whether the difference is more than 2 standard errors from 0 (false without one).
bool clear_difference(const Paired& p);

}  // namespace lr::driver
