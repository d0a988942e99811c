#include "diagnose/diagnostics.h"

#include <algorithm>
#include <stdexcept>

#include "diagnose/gold_walk.h"
#include "diagnose/position_scores.h"
#include "diagnose/rollout_statistics.h"
#include "diagnose/target_decoding.h"
#include "evaluate/evaluator.h"
#include "grading/grading.h"
#include "model/generate.h"

namespace lr::driver {

namespace {

using ojson = nlohmann::ordered_json;

void check_options(const DiagnoseOptions& o) {
  if (!o.prompt) throw std::invalid_argument("diagnose: no prompt function");
  if (o.max_new_tokens < 1) throw std::invalid_argument("diagnose: max_new_tokens must be >= 1");
  if (o.batch_size < 1) throw std::invalid_argument("diagnose: batch_size must be >= 1");
  if (o.k < 1) throw std::invalid_argument("diagnose: k must be >= 1");
  if (!(o.beta > 0.0f && o.beta <= 1.0f)) throw std::invalid_argument("diagnose: beta must be in (0, 1]");
  if (o.stop_ids.empty()) throw std::invalid_argument("diagnose: no stop ids (the gold solution ends with the first)");
}

// What every phase needs: the models, the encoded prompts, the options.
struct Context {
  const Qwen2Model& expert;
  const Qwen2Model& amateur;
  const Tokenizer& tokenizer;
  const std::vector<EvalProblem>& problems;
  const DiagnoseOptions& options;
  const DiagnoseProgress& progress;
  ContrastOptions contrast;
  int64_t embeddable = 0;  // ids both models can read
  std::vector<std::vector<int64_t>> prompts;
};

std::vector<int64_t> checked_ids(const std::vector<int32_t>& ids, int64_t embeddable, const std::string& what) {
  for (int32_t id : ids)
    if (id < 0 || id >= embeddable)
      throw std::invalid_argument("diagnose: " + what + ": id " + std::to_string(id) + " outside a model's vocabulary (" +
                                  std::to_string(embeddable) + ")");
  return std::vector<int64_t>(ids.begin(), ids.end());
}

bool correct(const Context& x, size_t i, const std::vector<int64_t>& out) {
  const EvalProblem& p = x.problems[i];
  return grade_output(output_text(x.tokenizer, out, x.options.stop_ids), p.gold, p.kind).correct;
}

void report(const Context& x, const char* phase, int64_t done, int64_t total) {
  if (x.progress) x.progress(phase, done, total);
}

// A rollout's scored span: the generated ids up to and including the first
// one outside the shared vocabulary (never read as input), as the sampler cuts it.
Span rollout_span(const std::vector<int64_t>& prompt, const std::vector<int64_t>& generated, int64_t shared) {
  Span s{prompt, static_cast<int64_t>(prompt.size()) - 1, 0};
  for (int64_t id : generated) {
    s.ids.push_back(id);
    ++s.count;
    if (id < 0 || id >= shared) break;
  }
  return s;
}

// (a) and the expert's greedy accuracy.
ojson expert_rollouts(const Context& x) {
  std::vector<std::vector<PositionScore>> scores;
  int64_t right = 0;
  GenerateOptions g;
  g.max_new_tokens = x.options.max_new_tokens;
  g.stop_ids = x.options.stop_ids;
  g.batch_size = x.options.batch_size;
  const size_t total = x.prompts.size(), bs = static_cast<size_t>(x.options.batch_size);
  report(x, "expert rollouts", 0, int64_t(total));  // the phase's clock starts here
  for (size_t b0 = 0; b0 < total; b0 += bs) {
    const std::vector<std::vector<int64_t>> prompts(x.prompts.begin() + long(b0),
                                                    x.prompts.begin() + long(std::min(total, b0 + bs)));
    const auto outputs = generate(x.expert, prompts, g);
    std::vector<Span> spans;
    for (size_t r = 0; r < outputs.size(); ++r) {
      right += correct(x, b0 + r, outputs[r]);
      const Span s = rollout_span(prompts[r], outputs[r], x.contrast.shared_vocab);
      if (s.count > 0) spans.push_back(s);
    }
    for (auto& rollout : score_spans(x.expert, x.amateur, spans, x.contrast)) scores.push_back(std::move(rollout));
    report(x, "expert rollouts", int64_t(b0 + outputs.size()), int64_t(total));
  }
  ojson j = rollout_statistics(scores);
  j["expert_correct"] = right;
  return j;
}

// (b): the target's greedy outputs, graded.
ojson target_greedy(const Context& x) {
  TargetDecodingOptions o;
  o.contrast = x.contrast;
  o.max_new_tokens = x.options.max_new_tokens;
  o.batch_size = x.options.batch_size;
  o.stop_ids = x.options.stop_ids;
  o.progress = [&x](int64_t done, int64_t total) { report(x, "target decoding", done, total); };
  report(x, "target decoding", 0, int64_t(x.prompts.size()));
  const TargetDecoding d = decode_from_targets(x.expert, x.amateur, x.prompts, o);
  int64_t right = 0;
  for (size_t i = 0; i < d.outputs.size(); ++i) right += correct(x, i, d.outputs[i]);
  return {{"correct", right}, {"steps", d.steps}, {"steps_off_expert", d.steps_off_expert}};
}

// (c): the walks along each gold worked solution, its answer text encoded
// then the first stop id (problems without an answer text are skipped).
ojson gold_walks(const Context& x) {
  std::vector<std::vector<int64_t>> prompts, golds;
  for (size_t i = 0; i < x.problems.size(); ++i) {
    const EvalProblem& p = x.problems[i];
    if (p.answer_text.empty()) continue;
    golds.push_back(checked_ids(x.tokenizer.encode(p.answer_text), x.embeddable,
                                "problem " + std::to_string(p.id) + ": gold solution"));
    golds.back().push_back(x.options.stop_ids.front());
    prompts.push_back(x.prompts[i]);
  }
  const auto progress = [&x](int64_t done, int64_t total) { report(x, "gold solutions", done, total); };
  report(x, "gold solutions", 0, int64_t(prompts.size()));
  ojson j =
      walk_gold(x.expert, x.amateur, prompts, golds, x.contrast, x.options.batch_size, progress, x.options.stop_ids)
          .to_json();
  j["problems_without_solution"] = x.problems.size() - prompts.size();
  return j;
}

double fraction(int64_t part, size_t whole) { return whole > 0 ? double(part) / double(whole) : 0.0; }

}  // namespace

ojson run_diagnostics(const Qwen2Model& expert, const Qwen2Model& amateur, const Tokenizer& tokenizer,
                      const std::vector<EvalProblem>& problems, const DiagnoseOptions& o,
                      const DiagnoseProgress& progress) {
  check_options(o);
  Context x{expert, amateur, tokenizer, problems, o, progress, {}, 0, {}};
  x.contrast = {o.kl_threshold, o.beta, o.k, shared_vocab_of(expert, amateur, tokenizer)};
  x.embeddable = std::min(expert.config().vocab_size, amateur.config().vocab_size);
  for (const EvalProblem& p : problems)
    x.prompts.push_back(
        checked_ids(tokenizer.encode(o.prompt(p.question)), x.embeddable, "problem " + std::to_string(p.id) + ": prompt"));
  ojson rollouts = expert_rollouts(x);
  const int64_t expert_right = rollouts["expert_correct"].get<int64_t>();
  rollouts.erase("expert_correct");
  const ojson target = target_greedy(x);
  ojson out;
  out["problems"] = problems.size();
  out["shared_vocab"] = x.contrast.shared_vocab;
  out["rollouts"] = std::move(rollouts);
  out["decoding"] = {
      {"expert_greedy", {{"correct", expert_right}, {"accuracy", fraction(expert_right, problems.size())}}},
      {"target_greedy",
       {{"correct", target["correct"]},
        {"accuracy", fraction(target["correct"].get<int64_t>(), problems.size())},
        {"steps", target["steps"]},
        {"steps_off_expert", target["steps_off_expert"]}}}};
  out["gold"] = gold_walks(x);
  return out;
}

}  // namespace lr::driver
