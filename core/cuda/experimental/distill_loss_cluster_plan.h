// How the single-read loss (distill_loss_cluster.cuh) splits a row over a
// thread-block cluster (host code, no CUDA headers, so the host tests check
// it): the fewest blocks, at most eight, whose slices fit first two blocks
// to an SM (near 100 KiB each) and else the device's shared memory per
// block; slices are a multiple of eight elements, so each starts on a
// 16-byte boundary of an aligned row.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lr::core::cuda {

constexpr int kMaxClusterBlocks = 8;                // the portable cluster size
constexpr size_t kSliceBytesTwoPerSm = 100u << 10;  // two blocks per SM up to this

struct ClusterPlan {
  int blocks = 0;     // 0: the row does not fit; run the default kernel
  int64_t slice = 0;  // elements per block (the last block may hold fewer)
};

inline ClusterPlan plan_cluster(int64_t cols, size_t elem_bytes, size_t room_bytes) {
  ClusterPlan plan;
  for (size_t limit : {kSliceBytesTwoPerSm, room_bytes}) {
    for (int c = 1; c <= kMaxClusterBlocks; ++c) {
      const int64_t s = ((cols + c - 1) / c + 7) / 8 * 8;
      if (size_t(s) * elem_bytes <= limit) {
        plan.blocks = c;
        plan.slice = s;
        return plan;
      }
    }
  }
  return plan;
}

}  // namespace lr::core::cuda
