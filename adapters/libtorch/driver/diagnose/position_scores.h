// Both models' next-token distributions at chosen positions of token
// sequences, and what stage 1 makes of each (METHOD.md "Stage 1: sampling"):
// KL(p_E || p_A), the kappa decision, the contrastive target's top token and
// support size, and each model's own top token. Unlike the sampler, the
// target is built at EVERY position, kept or not, so the diagnostics can ask
// what it would say anywhere. All of it over the first `shared_vocab` ids.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "model/qwen2_model.h"
#include "tokenizer.h"

namespace lr::driver {

// kappa, beta and K as in [sample]; shared_vocab = min(expert, amateur, tokenizer vocab).
struct ContrastOptions {
  float kl_threshold = 0;
  float beta = 0;
  int64_t k = 1;
  int64_t shared_vocab = 0;
};

// The shared vocabulary of two models and a tokenizer (as the sampler cuts it).
int64_t shared_vocab_of(const Qwen2Model& expert, const Qwen2Model& amateur, const Tokenizer& tokenizer);

struct PositionScore {
  double kl = 0;            // NaN for a data fault
  bool kept = false;        // kl > kappa (the library's decision)
  int64_t support = 0;      // |{a : p_E(a) >= beta max p_E}|, before truncation to K
  int64_t target_top = -1;  // the heaviest id of the target as stage 1 stores it (K slots: a larger
                            // support is cut to its K ids of largest p_E first, as the C library does)
  int64_t expert_top = -1;  // argmax p_E
  int64_t amateur_top = -1; // argmax p_A
};

// Rows of logits already cut to the shared vocabulary: expert [N, V], amateur [N, V].
std::vector<PositionScore> score_rows(const at::Tensor& expert_logits, const at::Tensor& amateur_logits,
                                      const ContrastOptions& options);

// The positions first .. first + count - 1 of ids (the logits there predict
// ids[first + 1 ..]); only ids[0 .. first + count - 1] are read.
struct Span {
  std::vector<int64_t> ids;
  int64_t first = 0;
  int64_t count = 0;
};

// One batched teacher-forced forward of each model over all spans (right
// padded), scored with score_rows; result[i] has spans[i].count entries.
std::vector<std::vector<PositionScore>> score_spans(const Qwen2Model& expert, const Qwen2Model& amateur,
                                                    const std::vector<Span>& spans, const ContrastOptions& options);

}  // namespace lr::driver
