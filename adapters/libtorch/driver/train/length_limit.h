// train.max_seq_len: a prefix longer than max_len is cut from the left, so
// the supervised position (the prefix's last token) and the max_len - 1
// tokens before it are kept; the kept tokens are scored from position 0,
// as a left-truncated input is. The per-prefix and the packed forms cut the
// same way, so packed training still equals per-prefix training.
// (sft.max_seq_len differs on purpose: SFT supervises every trajectory token
// after the prompt, so sft_samples keeps the prompt and cuts the end.)
#pragma once

#include <cstdint>
#include <vector>

#include "train/objective.h"

namespace lr::driver {

// Whether a supervised prefix of prefix_len tokens is cut (max_len <= 0: never).
bool is_cut(int64_t prefix_len, int64_t max_len);

// The sample with its prefix's last max_len ids (the sample itself when it fits).
SupervisionSample cut_from_left(const SupervisionSample& sample, int64_t max_len);

// The rollout as rollouts that fit max_len and score the same positions with
// the same contexts as cut_from_left(unpack(rollout)): the rollout's head
// (ids up to its last uncut position) for the positions t < max_len, and one
// window ids[t - max_len + 1, t] for each longer one. A rollout that fits is
// returned whole.
std::vector<PackedRollout> cut_from_left(const PackedRollout& rollout, int64_t max_len);

// The supervised positions cut at max_len: samples whose prefix is longer, or
// rollout positions t with t + 1 > max_len. The stage reports it.
int64_t count_cut(const std::vector<SupervisionSample>& samples, int64_t max_len);
int64_t count_cut(const std::vector<PackedRollout>& rollouts, int64_t max_len);

}  // namespace lr::driver
