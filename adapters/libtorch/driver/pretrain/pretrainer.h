// Training a Qwen2-shaped model from scratch: every weight of a random
// checkpoint (write_tiny_qwen2) trained on the corpus's documents with the
// stage-2 trainer (train/trainer.h: AdamW, warmup then linear decay,
// clipping, seeded order, periodic checkpoints, exact resume) and the
// sequence cross-entropy (train/sequence_objective.h).
//
// A model's updates run through phases: update u trains on documents of the
// phase u falls in. Micro-batch slots are indices into total_updates *
// batch_size documents (the trainer's seeded permutation), and document i of
// a phase is the corpus's document(phase, i): a resumed run sees exactly the
// documents an uninterrupted one would.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/qwen2_model.h"
#include "pretrain/corpus.h"
#include "pretrain/documents.h"
#include "train/trainer.h"

namespace lr::driver {

struct PretrainPhase {
  int64_t until;       // the update count at which the phase ends
  CorpusPhase corpus;  // what its documents are
  // Called with the model when the phase's last update is done in this call
  // or when a resumed run starts exactly there (not past it), e.g. to write a
  // snapshot.
  std::function<void(const Qwen2Model&)> then;
};

struct PretrainPlan {
  std::string label;      // in progress lines: "expert"
  std::string init_dir;   // the random checkpoint to start from
  TrainOptions options;   // total_updates = the last phase's until; checkpoint_dir: where resumes come from
  std::vector<PretrainPhase> phases;
};

// Trains through the phases, resuming from options.checkpoint_dir when it
// holds a checkpoint. Returns the trained model, or nothing when options.stop
// stopped it (a checkpoint is then in checkpoint_dir).
std::optional<Qwen2Model> pretrain_model(const PretrainPlan& plan, const PretrainCorpus& corpus,
                                         const DocumentEncoder& encoder);

// The model's weights as a safetensors file (Hugging Face names, float32,
// metadata "format": "pt"), written atomically.
void save_weights(const Qwen2Model& model, const std::string& path);

}  // namespace lr::driver
