// The label of rank 0's progress bar in a sharded stage: it counts rank 0's
// share only (the other ranks show none), and says so.
#pragma once

#include <string>

#include "distributed/process_group.h"

namespace lr::driver {

inline std::string share_label(const std::string& what) {
  return dist::world_size() > 1 ? what + " (rank 0's share of " + std::to_string(dist::world_size()) + ")" : what;
}

}  // namespace lr::driver
