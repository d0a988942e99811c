// Stage 1 once per sweep where it can be: with greedy rollouts (and no
// shuffled problem subset, and selection other than "random") the
// supervision file does not depend on run.seed, so a run whose stage 1 is not
// complete copies the complete one of another run of the sweep with the same
// stage-1 inputs, instead of computing it again. The sample stage's own
// completeness check then sees it complete (its settings record seed 0 for
// greedy rollouts).
#pragma once

#include <vector>

#include "sweep/sweep_plan.h"

namespace lr::driver {

// True when `run`'s stage 1 was copied from one of `all` (nothing is copied
// when its own is complete or no other run fits).
bool reuse_supervision(const SweepRun& run, const std::vector<SweepRun>& all);

}  // namespace lr::driver
