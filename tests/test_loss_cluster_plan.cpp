// The single-read loss's split of a row over a cluster (core/cuda/
// experimental/distill_loss_cluster_plan.h), checked on the host for every V
// a vocabulary could have up to 262144 (and past): each element in exactly one slice, no empty
// block, slices on 16-byte boundaries, within the shared memory, and the
// fewest blocks that fit.
#include <gtest/gtest.h>

#include <cstdint>

#include "distill_loss_cluster_plan.h"

namespace {

using lr::core::cuda::ClusterPlan;
using lr::core::cuda::kMaxClusterBlocks;
using lr::core::cuda::kSliceBytesTwoPerSm;
using lr::core::cuda::plan_cluster;

constexpr size_t kHopperRoom = 227u << 10;  // shared memory per block an H100 / H200 allows, less a little

void expect_valid(int64_t V, size_t elem, const ClusterPlan& p) {
  ASSERT_GE(p.blocks, 1) << "V " << V << " elem " << elem;
  ASSERT_LE(p.blocks, kMaxClusterBlocks);
  EXPECT_EQ(p.slice % 8, 0) << "V " << V;
  EXPECT_EQ((size_t(p.slice) * elem) % 16, 0u) << "V " << V;
  EXPECT_GE(int64_t(p.blocks) * p.slice, V) << "V " << V << ": elements left out";
  EXPECT_LT(int64_t(p.blocks - 1) * p.slice, V) << "V " << V << ": an empty block";
  EXPECT_LE(size_t(p.slice) * elem, kHopperRoom) << "V " << V;
  if (p.blocks > 1) {  // one block fewer would not fit under the limit that was used
    const int64_t fewer = ((V + p.blocks - 2) / (p.blocks - 1) + 7) / 8 * 8;
    const size_t limit = size_t(p.slice) * elem <= kSliceBytesTwoPerSm ? kSliceBytesTwoPerSm : kHopperRoom;
    EXPECT_GT(size_t(fewer) * elem, limit) << "V " << V << ": more blocks than needed";
  }
}

TEST(LossClusterPlan, EveryVocabularySizeSplitsCleanly) {
  for (size_t elem : {size_t(2), size_t(4)}) {
    for (int64_t V = 1; V <= 262144; V += (V < 4096 ? 1 : 97)) expect_valid(V, elem, plan_cluster(V, elem, kHopperRoom));
    for (int64_t V : {151936, 152064, 128256, 262144, 256000}) expect_valid(V, elem, plan_cluster(V, elem, kHopperRoom));
  }
}

TEST(LossClusterPlan, Qwen25VocabularyTakesThreeOrSixBlocks) {
  const ClusterPlan bf16 = plan_cluster(151936, 2, kHopperRoom);
  EXPECT_EQ(bf16.blocks, 3);  // 99 KiB slices: two blocks per SM
  EXPECT_LE(size_t(bf16.slice) * 2, kSliceBytesTwoPerSm);
  const ClusterPlan f32 = plan_cluster(151936, 4, kHopperRoom);
  EXPECT_EQ(f32.blocks, 6);
}

TEST(LossClusterPlan, RowsTooLargeForEightBlocksFallBack) {
  // 8 x 227 KiB holds ~1.8 MiB: a float32 row of 600000 does not fit.
  EXPECT_EQ(plan_cluster(600000, 4, kHopperRoom).blocks, 0);
  // Past 8 x 100 KiB the slices grow beyond two per SM rather than fail.
  const ClusterPlan big = plan_cluster(300000, 4, kHopperRoom);
  EXPECT_EQ(big.blocks, 6);
  EXPECT_GT(size_t(big.slice) * 4, kSliceBytesTwoPerSm);
}

}  // namespace
