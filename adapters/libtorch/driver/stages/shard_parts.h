// The parts of a sharded stage's output (distributed/sharding.h): rank R of W
// writes RunLayout::shard_of(FILE, R, W); rank 0 merges every part into FILE
// and removes them.
//
// Parts of another world size (a run stopped with W ranks, resumed with W'):
// imported. Batches are fixed by the problems' positions whatever W is, so
// a part's lines are the ones any rank or a one-process run would write for
// those problems (same settings: the results folder's settings.json, or the
// supervision header, which the merge checks); the ranks take their problems
// as done and the merge takes them in. Only parts of the current world size
// other than a rank's own are left unread until the merge (their ranks are
// still writing them). A one-process run (world size 1) ignores parts and
// leaves them; a later sharded run's merge prefers the file's lines to
// theirs and removes them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace lr::driver {

// Every part of `file` on disk, by name.
std::vector<std::string> parts_of(const std::filesystem::path& file);
// The parts of `file` written with a world size other than `world`.
std::vector<std::string> parts_of_other_worlds(const std::filesystem::path& file, int world);
// Removes every part of `file`, and its shards/ folder once empty.
void remove_parts(const std::filesystem::path& file);

}  // namespace lr::driver
