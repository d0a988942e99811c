// The parts of a sharded evaluation (distributed/sharding.h) merged into the
// results file a one-process run writes, byte for byte: the file's complete
// lines first, as they are (results of earlier calls, in the order they were
// written), then each problem it lacks, in the problems' order, as the first
// part that has it wrote it. A one-process run appends the missing problems
// batch by batch in that same order, so the bytes are equal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lr::driver {

// Merges `parts` into `path` for the problems `ids` (in their order) and
// writes it atomically; returns the lines added. A file that needs nothing
// (no line to add, no torn tail) is left untouched. Throws ResultsFileError
// for a bad file or part.
int64_t merge_result_parts(const std::string& path, const std::vector<int64_t>& ids,
                           const std::vector<std::string>& parts);

}  // namespace lr::driver
