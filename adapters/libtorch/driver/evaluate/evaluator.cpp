#include "evaluate/evaluator.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>

#include "evaluate/batch_timing.h"
#include "model/generate.h"

namespace lr::driver {


nlohmann::ordered_json DatasetScore::to_json() const {
  nlohmann::ordered_json j;
  j["n"] = n;
  j["correct"] = correct;
  j["accuracy"] = accuracy;
  j["seconds"] = seconds;
  j["generated_tokens"] = generated_tokens;
  return j;
}

DatasetScore score_results(const std::map<int64_t, ResultLine>& records, const std::vector<EvalProblem>& problems,
                           const std::string& timing_path) {
  DatasetScore s;
  std::set<int64_t> ids;
  for (const EvalProblem& p : problems) {
    const auto it = records.find(p.id);
    if (it == records.end()) continue;
    const ResultLine& r = it->second;
    ++s.n;
    ids.insert(p.id);
    if (r.value("correct", false)) ++s.correct;
    s.seconds += r.value("seconds", 0.0);  // files written before the timing file
    s.generated_tokens += r.value("tokens", int64_t{0});
  }
  if (!timing_path.empty()) s.seconds += timed_seconds(timing_path, ids);
  s.accuracy = s.n ? static_cast<double>(s.correct) / static_cast<double>(s.n) : 0.0;
  s.complete = s.n == static_cast<int64_t>(problems.size());
  return s;
}

namespace {

bool ends_with_stop_id(const std::vector<int64_t>& out, const std::vector<int64_t>& stop_ids) {
  return !out.empty() && std::find(stop_ids.begin(), stop_ids.end(), out.back()) != stop_ids.end();
}

}  // namespace

std::string output_text(const Tokenizer& tokenizer, const std::vector<int64_t>& out,
                        const std::vector<int64_t>& stop_ids) {
  const std::vector<int32_t> text_ids(out.begin(), out.end() - (ends_with_stop_id(out, stop_ids) ? 1 : 0));
  return tokenizer.decode(text_ids, /*skip_special_tokens=*/true);
}

namespace {

// Greedy decoding with the options' stop ids and, when there are stop
// strings, a check of the newest tokens' text.
GenerateOptions generate_options(const Tokenizer& tokenizer, const EvalOptions& options) {
  GenerateOptions g;
  g.max_new_tokens = options.max_new_tokens;
  g.greedy = true;
  g.stop_ids = options.stop_ids;
  g.batch_size = options.batch_size;
  if (options.stop_strings.empty()) return g;
  // Each token is at least one byte: the last (longest stop string) + 1
  // tokens hold any stop string the newest token completed.
  size_t window = 1;
  for (const std::string& s : options.stop_strings) window = std::max(window, s.size() + 1);
  g.stop_when = [&tokenizer, &options, window](size_t, const std::vector<int64_t>& generated) {
    const size_t n = std::min(window, generated.size());
    const std::vector<int32_t> tail(generated.end() - static_cast<std::ptrdiff_t>(n), generated.end());
    const std::string text = tokenizer.decode(tail);
    for (const std::string& s : options.stop_strings)
      if (text.find(s) != std::string::npos) return true;
    return false;
  };
  return g;
}

// One problem's result line: the output's text (without its stop id, cut
// before a stop string), its extracted answer and grade.
ResultLine result_line(const EvalProblem& p, const std::vector<int64_t>& prompt, const std::vector<int64_t>& out,
                       const Tokenizer& tokenizer, const EvalOptions& options) {
  const bool stop_id = ends_with_stop_id(out, options.stop_ids);
  std::string text = output_text(tokenizer, out, options.stop_ids);
  bool stop_string = false;
  size_t cut = std::string::npos;
  for (const std::string& s : options.stop_strings) cut = std::min(cut, text.find(s));
  if (cut != std::string::npos) {
    text.resize(cut);
    stop_string = true;
  }
  const GradedAnswer graded = grade_output(text, p.gold, p.kind);
  ResultLine line;
  line["id"] = p.id;
  line["question"] = p.question;
  line["gold"] = graded.gold;
  line["output"] = text;
  line["pred"] = graded.pred;
  line["correct"] = graded.correct;
  line["tokens"] = static_cast<int64_t>(out.size());
  line["stopped"] = stop_id || stop_string;
  if (options.record_ids) {
    line["prompt_ids"] = prompt;
    line["output_ids"] = out;
  }
  return line;
}

bool is_done(const ResultsFile& file, const EvalOptions& options, int64_t id) {
  return file.has(id) || options.done_elsewhere.count(id) != 0;
}

// The result lines of problems [start, end) not done yet, and their share of
// the batch's wall time.
struct BatchLines {
  std::vector<ResultLine> lines;
  std::vector<int64_t> ids;
  double seconds = 0;
};

BatchLines evaluate_batch(const Qwen2Model& model, const Tokenizer& tokenizer, const std::vector<EvalProblem>& problems,
                          int64_t start, int64_t end, const EvalOptions& options, const GenerateOptions& g,
                          const ResultsFile& file) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i = start; i < end; ++i) {
    const std::vector<int32_t> ids = tokenizer.encode(options.prompt(problems[static_cast<size_t>(i)].question));
    prompts.emplace_back(ids.begin(), ids.end());
  }
  const std::vector<std::vector<int64_t>> outputs = generate(model, prompts, g);
  const double batch_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  BatchLines out;
  for (int64_t i = start; i < end; ++i) {
    const EvalProblem& p = problems[static_cast<size_t>(i)];
    if (is_done(file, options, p.id)) continue;
    const size_t row = static_cast<size_t>(i - start);
    out.lines.push_back(result_line(p, prompts[row], outputs[row], tokenizer, options));
    out.ids.push_back(p.id);
  }
  out.seconds = batch_seconds * static_cast<double>(out.ids.size()) / static_cast<double>(end - start);
  return out;
}

}  // namespace

DatasetScore evaluate_dataset(const Qwen2Model& model, const Tokenizer& tokenizer,
                              const std::vector<EvalProblem>& problems, const EvalOptions& options,
                              const std::string& results_path) {
  if (!options.prompt) throw std::invalid_argument("evaluate_dataset: no prompt function");
  if (options.batch_size < 1 || options.max_new_tokens < 1)
    throw std::invalid_argument("evaluate_dataset: batch_size and max_new_tokens must be >= 1");
  ResultsFile file(results_path);
  const int64_t total = static_cast<int64_t>(problems.size()), bs = options.batch_size;
  const auto owned = [&](int64_t i) { return options.shard.owns_batch(i / bs); };
  int64_t done = 0;
  for (int64_t i = 0; i < total; ++i) done += owned(i) && is_done(file, options, problems[size_t(i)].id) ? 1 : 0;
  const int64_t done_before = done, mine = options.shard.items_owned(total, bs);
  if (options.progress) options.progress(done, mine);

  const GenerateOptions g = generate_options(tokenizer, options);
  for (int64_t start = 0; start < total; start += bs) {
    if (options.stop && options.stop->load()) break;
    const int64_t end = std::min(total, start + bs);
    bool missing = false;
    for (int64_t i = start; i < end && !missing; ++i) missing = !is_done(file, options, problems[size_t(i)].id);
    if (!missing || !owned(start)) continue;
    const BatchLines b = evaluate_batch(model, tokenizer, problems, start, end, options, g, file);
    file.append(b.lines);
    if (!options.timing_path.empty()) append_batch_timing(options.timing_path, start / bs, b.ids, b.seconds);
    done += static_cast<int64_t>(b.lines.size());
    if (options.progress) options.progress(done, mine);
  }
  DatasetScore score = score_results(file.records(), problems, options.timing_path);
  score.done_before = done_before;
  score.done_now = done - done_before;
  return score;
}

}  // namespace lr::driver
