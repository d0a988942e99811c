// The pretraining corpus: an endless, seeded stream of documents, each drawn
// from its own generator seeded with (seed, phase, index), so document i of a
// phase is the same whatever order or process asks for it (a resumed run
// trains on what an uninterrupted one would). A document whose question is
// held out (the stage-1, validation and test problems) is drawn again, so the
// corpus never contains one.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "pretrain/word_problems.h"

namespace lr::driver {

enum class CorpusPhase {
  general,  // the general mix (word_problems.h's general_problem)
  chains,   // a chain problem with probability chain_fraction, else the general mix
};

class PretrainCorpus {
 public:
  PretrainCorpus(uint64_t seed, double chain_fraction, std::unordered_set<std::string> held_out);

  WordProblem document(CorpusPhase phase, int64_t index) const;

  // The tokenizer's sample: n documents, half of each phase's kind, from a stream of their own.
  std::vector<WordProblem> tokenizer_sample(int64_t n) const;

 private:
  WordProblem draw_document(TaskRng& rng, CorpusPhase phase) const;

  uint64_t seed_;
  double chain_fraction_;
  std::unordered_set<std::string> held_out_;
};

}  // namespace lr::driver
