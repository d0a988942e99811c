// The stage-2 objective: KL(v || softmax(z)) at the supervised positions,
// through the LibTorch adapter's loss Function (lr::torch_adapter::distill_loss),
// mean over the supervised positions.
//
// Per-prefix mode: a batch of prefixes, right-padded; the prediction of each
// sample is read at its REAL last position (never at a pad position, the
// authors' defect). Packed mode: every supervised position of one rollout is
// scored in a single forward pass over the rollout (causal attention makes the
// logits at t depend on ids[0..t] only), giving the same loss and gradients.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "model/qwen2_model.h"

namespace lr::driver {

struct SupervisionSample {
  std::vector<int64_t> prefix_ids;     // the context; the prediction is at its last token
  std::vector<int32_t> target_ids;     // K target ids (-1 = padding)
  std::vector<float> target_weights;   // K weights, summing to 1 over the real ids
};

struct PackedRollout {
  std::vector<int64_t> ids;        // the rollout's ids (prompt + generated)
  std::vector<int64_t> positions;  // supervised indices t into ids: logits at t predict token t+1
  std::vector<std::vector<int32_t>> target_ids;    // one row per position
  std::vector<std::vector<float>> target_weights;  // one row per position
};

// How an objective runs beyond its batch; the defaults give the plain mean.
// The trainer sets all three (trainer.h), so that a data-parallel rank's rows
// are computed with the one-process run's arithmetic.
struct ObjectiveOptions {
  // None, or one per row (per sample, per rollout): the LoRA dropout rows of
  // the forward pass (lora_dropout.h), so a row's masks do not depend on its batch.
  std::vector<uint64_t> dropout_seeds;
  // Rows right-padded to at least this many tokens (the longest row of the
  // whole micro-batch: a row's arithmetic then does not depend on which
  // other rows share its batch).
  int64_t pad_to = 0;
  // The loss summed over the units instead of its mean over them.
  bool sum = false;
};

// The units a loss averages over (rows with at least one target id != -1, as
// the C library counts them): 0 or 1 for a sample, its counted positions for a rollout.
int64_t loss_units(const SupervisionSample& sample);
int64_t loss_units(const PackedRollout& rollout);

// The LibTorch adapter's distill loss of logits [N, V] against target ids and
// weights [N, K], reduced as `options` say: the mean or the sum over counted rows.
torch::Tensor reduced_distill_loss(const torch::Tensor& logits, const torch::Tensor& target_ids,
                                   const torch::Tensor& target_weights, const ObjectiveOptions& options);

// The per-prefix samples of a rollout: prefix ids[0..t] for each position t.
std::vector<SupervisionSample> unpack(const PackedRollout& rollout);

// Right-pads the batch (pad id 0, attention mask 0), takes the hidden state at
// each sample's last real position, applies lm_head, and returns the mean
// distill loss (0-d float32; differentiable w.r.t. the LoRA weights).
// Throws std::invalid_argument for an empty batch, an empty prefix, target ids
// / weights of different lengths, or dropout seeds that are not one per sample.
torch::Tensor per_prefix_loss(const Qwen2Model& model, const std::vector<SupervisionSample>& batch,
                              const ObjectiveOptions& options = {});

// One forward pass over rollout.ids, logits at every supervised position, the
// mean distill loss over them. Equal to per_prefix_loss(model, unpack(rollout)).
torch::Tensor packed_loss(const Qwen2Model& model, const PackedRollout& rollout);

// A batch of rollouts in one forward pass (right-padded, pad id 0): the mean
// over every supervised position of every rollout, i.e. equal to
// per_prefix_loss over all their unpacked samples together (options: one
// dropout seed per rollout).
torch::Tensor packed_loss(const Qwen2Model& model, const std::vector<PackedRollout>& rollouts,
                          const ObjectiveOptions& options = {});

}  // namespace lr::driver
