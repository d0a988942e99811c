// A progress bar for the evaluation loop (evaluate/evaluator.h), over the
// problems not yet done: eval's datasets and the SFT baseline's rollouts.
#pragma once

#include <optional>
#include <string>

#include "evaluate/evaluator.h"
#include "runtime/progress.h"

namespace lr::driver {

// Sets eo.progress to start `progress` at its first report (when problems
// remain) and to update it after. `progress` must outlive the loop's run.
// On the ranks of a group only rank 0 shows one, over its own share (bars
// of several processes on one terminal would overwrite each other).
void show_progress(EvalOptions& eo, std::optional<Progress>& progress, const std::string& label);

}  // namespace lr::driver
