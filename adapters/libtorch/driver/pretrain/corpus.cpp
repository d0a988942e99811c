#include "pretrain/corpus.h"

namespace lr::driver {

namespace {
constexpr uint32_t kTokenizerStream = 7;

TaskRng generator_for(uint64_t seed, uint32_t stream, int64_t index) {
  std::seed_seq seq{uint32_t(seed), uint32_t(seed >> 32), stream, uint32_t(index), uint32_t(uint64_t(index) >> 32)};
  return TaskRng(seq);
}
}  // namespace

PretrainCorpus::PretrainCorpus(uint64_t seed, double chain_fraction, std::unordered_set<std::string> held_out)
    : seed_(seed), chain_fraction_(chain_fraction), held_out_(std::move(held_out)) {}

WordProblem PretrainCorpus::draw_document(TaskRng& rng, CorpusPhase phase) const {
  for (;;) {
    // A uniform draw in [0, 1) from 53 bits, the same on every platform.
    const double u = double(rng() >> 11) / double(uint64_t(1) << 53);
    WordProblem p = phase == CorpusPhase::chains && u < chain_fraction_ ? chain_problem(rng) : general_problem(rng);
    if (!held_out_.count(p.question)) return p;
  }
}

WordProblem PretrainCorpus::document(CorpusPhase phase, int64_t index) const {
  TaskRng rng = generator_for(seed_, phase == CorpusPhase::general ? 1 : 2, index);
  return draw_document(rng, phase);
}

std::vector<WordProblem> PretrainCorpus::tokenizer_sample(int64_t n) const {
  std::vector<WordProblem> out;
  for (int64_t i = 0; int64_t(out.size()) < n; ++i) {
    TaskRng rng = generator_for(seed_, kTokenizerStream, i);
    WordProblem p = i % 2 ? chain_problem(rng) : general_problem(rng);
    if (!held_out_.count(p.question)) out.push_back(std::move(p));
  }
  return out;
}

}  // namespace lr::driver
