// Which rank computes what in the sharded stages (sample, eval, sft's
// rollouts). Those stages cut their problems into fixed batches by position
// (batch b = problems [b*B, (b+1)*B)) and compute each batch independently
// of the others, so a batch's results do not depend on who computes it:
// rank r of W computes the batches b with b % W == r, writes them to its own
// part of the output, and rank 0 merges the parts into the file a
// one-process run writes (io/run_layout.h names the parts).
#pragma once

#include <cstdint>

#include "distributed/process_group.h"

namespace lr::driver {

struct Shard {
  int rank = 0;
  int world = 1;

  bool whole() const { return world <= 1; }  // one process: nothing is split
  bool owns_batch(int64_t batch) const { return whole() || batch % world == rank; }
  // How many of n items (in batches of batch_size) this rank computes.
  int64_t items_owned(int64_t n, int64_t batch_size) const {
    int64_t owned = 0;
    for (int64_t b = 0; b * batch_size < n; ++b)
      if (owns_batch(b)) owned += (b + 1) * batch_size <= n ? batch_size : n - b * batch_size;
    return owned;
  }
};

// This process's shard: rank r of W in a joined group, else the whole.
inline Shard this_rank_shard() { return Shard{dist::rank(), dist::world_size()}; }

}  // namespace lr::driver
