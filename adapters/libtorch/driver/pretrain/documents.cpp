#include "pretrain/documents.h"

#include <algorithm>
#include <stdexcept>

#include "prompt/chat_prompt.h"

namespace lr::driver {

DocumentEncoder::DocumentEncoder(const Tokenizer& tokenizer, std::string prompt_template, std::string system,
                                 int64_t seq_len)
    : tokenizer_(tokenizer), template_(std::move(prompt_template)), system_(std::move(system)), seq_len_(seq_len) {
  const auto end = tokenizer.token_to_id("<|endoftext|>");
  if (!end) throw std::invalid_argument("pretrain: the tokenizer has no <|endoftext|> token");
  if (seq_len < 2) throw std::invalid_argument("pretrain: seq_len must be at least 2");
  end_id_ = *end;
}

std::string DocumentEncoder::prompt(const std::string& question) const {
  return render_prompt(template_, system_, question);
}

SequenceSample DocumentEncoder::encode(const WordProblem& problem) const {
  SequenceSample s;
  for (int32_t id : tokenizer_.encode(prompt(problem.question))) s.ids.push_back(id);
  s.loss_start = int64_t(s.ids.size());
  for (int32_t id : tokenizer_.encode(problem.answer)) s.ids.push_back(id);
  s.ids.push_back(end_id_);
  // Cut at seq_len, keeping at least one target (a prompt longer than seq_len keeps its start and loses the rest).
  if (int64_t(s.ids.size()) > seq_len_) {
    s.ids.resize(size_t(seq_len_));
    s.loss_start = std::min(s.loss_start, seq_len_ - 1);
  }
  s.loss_start = std::max<int64_t>(s.loss_start, 1);
  return s;
}

}  // namespace lr::driver
