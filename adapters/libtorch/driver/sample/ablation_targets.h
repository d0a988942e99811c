// Targets of the expert alone (sample.targets; the paper's Table 6 "no
// contrast" row and a softer variant), in the layout of the library's
// contrastive targets (lightreasoner/torch.h): ids int32 [M, K] (-1 padding),
// weights float32 [M, K] (0 padding, descending; ties: lower id first),
// support_size int32 [M] (-1: a data fault, NaN or +Inf in the row).
//   "expert"  p_E restricted to the beta-mask M = {a : p_E(a) >= beta max p_E}
//             (decided as z_a - z_max >= log beta in double, as the library
//             does), renormalised; |M| > K keeps the K largest (ties: lower id)
//             renormalised over them; support_size = |M|.
//   "argmax"  one-hot on the expert's top token (ties: lower id); support 1.
//             With greedy rollouts this is the token the expert generated.
// LibTorch ops on the logits' device (CPU or CUDA), in double, a bounded
// number of rows at a time.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace lr::driver {

struct ExpertTargets {
  at::Tensor ids, weights, support_size;  // on the logits' device
};

// True for "contrastive", "expert", "argmax".
bool known_target_kind(const std::string& kind);

// The "expert" or "argmax" targets of logits[rows] (logits [N, S] over the
// shared vocabulary, any float dtype, a row-strided view is fine; rows int64
// [M] on the logits' device).
ExpertTargets expert_targets(const at::Tensor& logits, const at::Tensor& rows, const std::string& kind, int64_t k,
                             float beta);

}  // namespace lr::driver
