// A pretraining document as the models see it: the experiment's prompt
// (prompt.template with the question; the miniature uses the plain
// "Question: ...\nAnswer: " for both prompts) followed by the worked answer
// and <|endoftext|>, so that generation stops there. Prompt and answer are
// tokenized apart, exactly as evaluation tokenizes the prompt and the model
// continues it. The loss covers the answer and the end token only.
#pragma once

#include <cstdint>
#include <string>

#include "pretrain/word_problems.h"
#include "tokenizer/tokenizer.h"
#include "train/sequence_objective.h"

namespace lr::driver {

class DocumentEncoder {
 public:
  // tokenizer must have <|endoftext|>; seq_len: documents are cut to it (>= 2).
  DocumentEncoder(const Tokenizer& tokenizer, std::string prompt_template, std::string system, int64_t seq_len);

  // The prompt text of a question.
  std::string prompt(const std::string& question) const;

  SequenceSample encode(const WordProblem& problem) const;

 private:
  const Tokenizer& tokenizer_;
  std::string template_, system_;
  int64_t seq_len_;
  int32_t end_id_;
};

}  // namespace lr::driver
