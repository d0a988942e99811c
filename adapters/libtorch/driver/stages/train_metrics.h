// The metrics file of a training run (RUN/train_metrics.jsonl,
// RUN/sft/train_metrics.jsonl): one JSON object per update, appended.
#pragma once

#include <cstdint>
#include <string>

namespace lr::driver {

// Keeps the lines of updates 1..done: a resumed run redoes the updates after
// its last checkpoint, and their lines must not appear twice. Rewrites the
// file atomically; returns the sum of the kept lines' "seconds" (0 without).
double keep_metrics_through(const std::string& path, int64_t done);

}  // namespace lr::driver
