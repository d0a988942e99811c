#include "step_selection.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "model/sampling.h"

namespace lr::driver {

namespace {

// Keeps the selection's draws apart from the rollouts' (which use the seed too).
constexpr uint64_t kSelectionSalt = 0x5E1EC7A11D5EEDull;

}  // namespace

bool known_step_selection(const std::string& selection) {
  return selection == "kl" || selection == "all" || selection == "random";
}

float library_kl_threshold(const std::string& selection, float kappa) {
  return selection == "kl" ? kappa : std::numeric_limits<float>::lowest();
}

std::vector<int64_t> random_positions(const std::vector<int64_t>& candidates, int64_t count, uint64_t seed,
                                      int64_t problem) {
  const int64_t m = static_cast<int64_t>(candidates.size());
  if (count < 0 || count > m) throw std::invalid_argument("random_positions: count outside [0, candidates]");
  std::vector<int64_t> pool = candidates;
  const uint64_t stream_seed = splitmix64(seed ^ kSelectionSalt);
  for (int64_t i = 0; i < count; ++i) {
    const double u = counter_uniform(stream_seed, static_cast<uint64_t>(problem), static_cast<uint64_t>(i));
    const int64_t j = i + std::min<int64_t>(m - i - 1, static_cast<int64_t>(u * static_cast<double>(m - i)));
    std::swap(pool[static_cast<size_t>(i)], pool[static_cast<size_t>(j)]);
  }
  pool.resize(static_cast<size_t>(count));
  std::sort(pool.begin(), pool.end());
  return pool;
}

void keep_random_steps(const float* kl, bool* keep, int64_t n, float kappa, uint64_t seed, int64_t problem) {
  std::vector<int64_t> finite;
  int64_t count = 0;  // what "kl" keeps: a finite KL above kappa
  for (int64_t j = 0; j < n; ++j) {
    if (!std::isfinite(kl[j])) continue;
    finite.push_back(j);
    count += kl[j] > kappa ? 1 : 0;
  }
  for (int64_t j = 0; j < n; ++j) keep[j] = false;
  for (int64_t j : random_positions(finite, count, seed, problem)) keep[j] = true;
}

}  // namespace lr::driver
