// Which scored positions of a rollout become records (sample.selection; the
// paper's Table 6 "no step selection" row and a random control):
//   "kl"      the paper's: KL(p_E || p_A) > kappa (the C library's keep flags);
//   "all"     every position whose KL is finite (the library is called with the
//             lowest finite kappa, so every such row also gets its target);
//   "random"  as many positions as "kl" keeps in that rollout, drawn uniformly
//             without replacement among its finite-KL positions.
// The random draws are a pure function of (run seed, problem id): a resumed or
// repeated run keeps the same positions whatever the batch. Records keep their
// true KL whichever positions are kept.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lr::driver {

// True for "kl", "all", "random".
bool known_step_selection(const std::string& selection);

// The kappa to give the library: the configured one for "kl", else the
// lowest finite float (every finite-KL row kept, with a target).
float library_kl_threshold(const std::string& selection, float kappa);

// `count` of `candidates` (positions), drawn uniformly without replacement
// by a partial Fisher-Yates shuffle whose i-th draw is
// counter_uniform(splitmix64(seed ^ salt), problem, i) (model/sampling.h);
// returned in ascending order. count > candidates.size() is an error.
std::vector<int64_t> random_positions(const std::vector<int64_t>& candidates, int64_t count, uint64_t seed,
                                      int64_t problem);

// "random" on one rollout's n positions (kl[j], keep[j] for j < n): keep is
// overwritten with a random choice of as many finite-KL positions as the
// "kl" rule (a finite KL > kappa) keeps there.
void keep_random_steps(const float* kl, bool* keep, int64_t n, float kappa, uint64_t seed, int64_t problem);

}  // namespace lr::driver
