// `lightreasoner run`: the whole experiment. (The tiny models when
// models.make_tiny) -> sample -> (diagnose when diagnostics.enabled) -> train -> eval (base and LightReasoner) -> sft
// and its eval when [sft].enabled -> report. A stage whose outputs are
// complete for the current settings is skipped ("skipped: complete"), so
// rerunning the same command after a Ctrl-C, a kill or a crash goes on where
// it stopped.
//
// As a rank of a distributed launch (distributed/process_group.h) every rank
// runs the sharded stages together; rank 0's view decides which stages are
// complete (so the ranks never disagree), a barrier closes each stage, and the
// models, diagnose and the report are rank 0's alone.
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <stdexcept>

#include "distributed/process_group.h"
#include "report/report.h"
#include "runtime/cout_to_cerr.h"
#include "runtime/interrupt.h"
#include "stages/pretrained_models.h"
#include "stages/stage.h"

namespace lr::driver {

namespace {

struct Stage {
  std::string name;
  std::function<bool()> complete;
  std::function<int()> run;
};

// run's own messages: rank 0's alone under a launch (the stages prefix their own).
std::ostream& say() {
  static std::ostream discard(nullptr);
  return dist::rank() == 0 ? std::cerr : discard;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 120 ? "%.1f s" : "%.1f min", s < 120 ? s : s / 60);
  return buf;
}

std::vector<Stage> stages_of(const ExperimentConfig& c) {
  StageOptions all;
  all.models = "all";
  std::vector<Stage> stages = {
      {"sample", [&c] { return sample_stage_complete(c); }, [&c] { return run_sample_stage(c); }},
  };
  if (c.diagnostics.enabled)  // one process: its problems are few, and it is not sharded
    stages.push_back({"diagnose", [&c] { return diagnose_stage_complete(c); },
                      [&c] { return dist::rank() == 0 ? run_diagnose_stage(c) : 0; }});
  stages.push_back({"train", [&c] { return train_stage_complete(c); }, [&c] { return run_train_stage(c); }});
  stages.push_back(
      {"eval", [&c, all] { return eval_stage_complete(c, all); }, [&c, all] { return run_eval_stage(c, all); }});
  if (c.sft.enabled) {
    stages.push_back({"sft", [&c] { return sft_stage_complete(c); }, [&c] { return run_sft_stage(c); }});
    // The SFT model's evaluation (base and LightReasoner are complete by now).
    stages.push_back({"eval (sft)", [&c, all] { return eval_stage_complete(c, all); },
                      [&c, all] { return run_eval_stage(c, all); }});
  }
  return stages;
}

// Each stage not yet complete, in order; throws "interrupted" after a Ctrl-C.
void run_stages(const std::vector<Stage>& stages, size_t steps) {
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage& s = stages[i];
    const std::string tag = "run: [" + std::to_string(i + 1) + "/" + std::to_string(steps) + "] " + s.name;
    if (InterruptScope::requested()) {
      say() << "run: interrupted before " << s.name << "; the same command resumes\n";
      throw std::runtime_error("interrupted");
    }
    // Rank 0's answer for every rank.
    const bool complete = dist::all_gather_text("run: complete? " + s.name, s.complete() ? "1" : "0")[0] == "1";
    if (complete) {
      say() << tag << ": skipped: complete\n";
      continue;
    }
    say() << tag << "\n";
    if (s.run() == kExitInterrupted || InterruptScope::requested()) {
      say() << "run: interrupted in " << s.name << "; the same command resumes\n";
      throw std::runtime_error("interrupted");
    }
    dist::barrier("run: done " + s.name);  // its outputs are complete before any rank looks at the next stage
  }
}

}  // namespace

void prepare_models(const ExperimentConfig& c) {
  if (c.models.make_tiny) {
    say() << "run: models.make_tiny: random tiny models (a smoke run: its accuracies mean nothing)\n";
    ensure_tiny_models(c);
  }
  // Rank 0 alone writes the pretrained models; the others wait for them.
  if (c.models.pretrain && dist::rank() == 0 && ensure_pretrained_models(c) == kExitInterrupted)
    throw std::runtime_error("interrupted");
  dist::barrier("run: models");
}

std::string run_experiment(const ExperimentConfig& c) {
  CoutToCerr redirect;  // stdout: the report's path alone
  InterruptScope interrupt;  // outermost: Ctrl-C between stages stops before the next one
  const auto t0 = std::chrono::steady_clock::now();
  say() << "run: " << c.source << " -> " << c.run.out_dir << "\n";
  prepare_models(c);
  const std::vector<Stage> stages = stages_of(c);
  const size_t steps = stages.size() + 1;
  run_stages(stages, steps);
  say() << "run: [" << steps << "/" << steps << "] report\n";
  if (dist::rank() != 0) return "";  // rank 0 writes it
  const std::string report = write_report(c);
  redirect.restore();
  say() << "run: done in " << seconds_text(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count())
            << "; the report is " << report << "\n";
  return report;
}

}  // namespace lr::driver
