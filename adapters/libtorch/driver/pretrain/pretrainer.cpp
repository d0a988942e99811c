#include "pretrain/pretrainer.h"

#include <cstdio>
#include <iostream>
#include <map>
#include <stdexcept>

#include "checkpoint/torch_bridge.h"
#include "model/trainable_weights.h"
#include "runtime/progress.h"

namespace lr::driver {

namespace {

void check_plan(const PretrainPlan& plan) {
  if (plan.phases.empty()) throw std::invalid_argument("pretrain " + plan.label + ": no phases");
  for (size_t i = 1; i < plan.phases.size(); ++i)
    if (plan.phases[i].until < plan.phases[i - 1].until)
      throw std::invalid_argument("pretrain " + plan.label + ": phases out of order");
  if (plan.phases.back().until != plan.options.total_updates)
    throw std::invalid_argument("pretrain " + plan.label + ": the last phase must end at total_updates");
}

// Runs the updates of one phase (from where the trainer is), with progress.
void run_phase(Trainer& trainer, const Qwen2Model& model, const PretrainPlan& plan, const PretrainPhase& phase, const PretrainCorpus& corpus,
               const DocumentEncoder& encoder, Progress& progress, int64_t start) {
  const int64_t n = plan.options.total_updates * plan.options.batch_size;
  double smoothed = -1;
  trainer.train_with(
      n,
      [&](const TrainingPass& mb) {
        std::vector<SequenceSample> batch;
        for (int64_t i : mb.indices) batch.push_back(encoder.encode(corpus.document(phase.corpus, i)));
        return sequence_ce_loss(model, batch, mb.objective);
      },
      [&](int64_t i) {
        const SequenceSample s = encoder.encode(corpus.document(phase.corpus, i));
        return SampleSize{target_tokens(s), static_cast<int64_t>(s.ids.size())};
      },
      phase.until, [&](int64_t done, int64_t, double loss) {
        smoothed = smoothed < 0 ? loss : 0.9 * smoothed + 0.1 * loss;
        char note[32];
        std::snprintf(note, sizeof note, "loss %.3f", smoothed);
        progress.update(done - start, note);
      });
}

}  // namespace

std::optional<Qwen2Model> pretrain_model(const PretrainPlan& plan, const PretrainCorpus& corpus,
                                         const DocumentEncoder& encoder) {
  check_plan(plan);
  Qwen2Model model = Qwen2Model::load(plan.init_dir);
  Trainer trainer(model, make_weights_trainable(model), plan.options);
  if (Trainer::has_checkpoint(plan.options.checkpoint_dir)) {
    trainer.load_checkpoint(plan.options.checkpoint_dir);
    std::cerr << "pretrain " << plan.label << ": resuming after update " << trainer.updates_done() << " of "
              << plan.options.total_updates << "\n";
  }
  const int64_t start = trainer.updates_done();
  Progress progress("pretrain " + plan.label, plan.options.total_updates - start, "updates");
  for (const PretrainPhase& phase : plan.phases) {
    if (trainer.updates_done() > phase.until) continue;
    if (trainer.updates_done() < phase.until) run_phase(trainer, model, plan, phase, corpus, encoder, progress, start);
    if (trainer.updates_done() < phase.until) return std::nullopt;  // stopped
    if (phase.then) phase.then(model);
  }
  progress.finish();
  return model;
}

void save_weights(const Qwen2Model& model, const std::string& path) {
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& [name, t] : named_weights(model))
    tensors[name] = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  save_tensors(path, tensors, {{"format", "pt"}});
}

}  // namespace lr::driver
