#include "sweep/supervision_reuse.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>

#include "io/atomic_file.h"
#include "io/run_layout.h"
#include "stages/stage.h"

namespace lr::driver {

namespace {

namespace fs = std::filesystem;

bool seed_free(const ExperimentConfig& c) {
  return c.sample.greedy && !c.data.shuffle && c.sample.selection != "random";
}

// Equal in everything stage 1 reads: b with a's seed, folder and the
// sections stage 1 does not read is a.
bool same_stage1_inputs(const ExperimentConfig& a, ExperimentConfig b) {
  b.run.seed = a.run.seed;
  b.run.out_dir = a.run.out_dir;
  b.lora = a.lora;
  b.train = a.train;
  b.eval = a.eval;
  b.sft = a.sft;
  b.diagnostics = a.diagnostics;
  b.sweep = a.sweep;
  b.report = a.report;
  return a == b;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error(p.string() + ": cannot read");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The statistics first: the stage counts as complete only once both are there.
void copy_stage1(const fs::path& from, const fs::path& to) {
  const RunLayout src(from), dst(to);
  fs::create_directories(to);
  write_file_atomically(dst.supervision_stats().string(), read_all(src.supervision_stats()));
  write_file_atomically(dst.supervision().string(), read_all(src.supervision()));
}

}  // namespace

bool reuse_supervision(const SweepRun& run, const std::vector<SweepRun>& all) {
  const ExperimentConfig& c = run.config;
  if (run.variant.row_model != "tuned" || !seed_free(c) || sample_stage_complete(c)) return false;
  if (fs::exists(RunLayout(c.run.out_dir).supervision())) return false;  // a started stage 1 resumes itself
  for (const SweepRun& other : all) {
    if (&other == &run || other.variant.row_model != "tuned" || !same_stage1_inputs(c, other.config)) continue;
    if (!sample_stage_complete(other.config)) continue;
    copy_stage1(other.config.run.out_dir, c.run.out_dir);
    std::cerr << "sweep: stage 1 copied from " << other.config.run.out_dir
              << " (greedy rollouts: the same supervision for every seed)\n";
    return true;
  }
  return false;
}

}  // namespace lr::driver
