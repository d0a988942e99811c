// The generation times of a results file, kept beside it (RunLayout::timing_of:
// DIR/NAME.timing.jsonl), one JSON line per batch written:
//   {"batch": 3, "ids": [12, 13], "seconds": 0.82}
// ids: the problems whose result lines the batch wrote; seconds: the batch's
// wall time, scaled to those problems (a resumed batch regenerates every row
// but writes only the missing ones). Kept out of the result lines so that
// those are the same bytes in every run; a sharded run's ranks each append to
// their own part, which rank 0 folds into this file (merge_timing_parts).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace lr::driver {

// Appends one batch's line (creating the file and its folder); flushed.
void append_batch_timing(const std::string& path, int64_t batch, const std::vector<int64_t>& ids, double seconds);

// The seconds spent on the problems `ids`: each line's seconds shared
// equally among its ids. Lines that are not JSON objects (a torn write) are
// skipped; an absent file reads 0.
double timed_seconds(const std::string& path, const std::set<int64_t>& ids);

// Appends the parts' lines to `path` (rewritten atomically), in the parts'
// order. Nothing happens when no part has a line.
void merge_timing_parts(const std::string& path, const std::vector<std::string>& parts);

}  // namespace lr::driver
