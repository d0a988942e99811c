// Diagnostics (a): stage 1's statistics on the expert's greedy rollouts of
// the validation problems (METHOD.md "Diagnostics"), from every generated
// position's score (position_scores.h):
//   kl        quantiles p10 p25 p50 p75 p90 (numpy's linear rule) and the mean
//             of KL(p_E || p_A) over every position with a finite KL
//   kept      positions with KL > kappa, and their fraction
//   support   |M| over all positions and over the kept ones: histogram, mean,
//             fraction of size 1
//   target_top_differs  positions whose target's top id is not the expert's
//             top id, over all positions and over the kept ones
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "diagnose/position_scores.h"

namespace lr::driver {

// The q-quantile (0 <= q <= 1) of sorted values: numpy's default "linear"
// rule, sorted[h] interpolated at h = (n - 1) q. Requires a non-empty input.
double linear_quantile(const std::vector<double>& sorted, double q);

// The statistics above of each rollout's scores, pooled.
nlohmann::ordered_json rollout_statistics(const std::vector<std::vector<PositionScore>>& rollouts);

}  // namespace lr::driver
