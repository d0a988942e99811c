// The parts of a sharded stage 1 (distributed/sharding.h) merged into the
// supervision file a one-process run writes, byte for byte: the file's
// complete problems first, as they are (header included; the first part's
// header when there is no file), then each problem it lacks, in the
// problems' order, as the first part that has it done wrote it (its records
// and done marker). A one-process run appends the missing problems batch by
// batch in that same order, so the bytes are equal.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lr::driver {

// Merges `parts` into `path` for the problems `ids` (in their order) and
// writes it atomically; returns the problems added. A file that needs nothing
// (no problem to add, no partial tail) is left untouched. Every file read
// must have been written with `settings` (SupervisionStoreError naming it
// otherwise, as SupervisionStore::open).
int64_t merge_supervision_parts(const std::string& path, const nlohmann::json& settings,
                                const std::vector<int64_t>& ids, const std::vector<std::string>& parts);

}  // namespace lr::driver
