#include "evaluate/datasets.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "grading/gold_answers.h"
#include "grading/multiple_choice.h"
#include "io/bounded_lines.h"
#include "io/json_depth.h"

namespace lr::driver {

namespace {

using nlohmann::json;

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

enum class Format { kGsm8k, kSvamp, kAsdiv, kMinerva, kOlympiad, kMmlu, kGeneric };

Format format_of(const std::string& name) {
  if (name == "gsm8k") return Format::kGsm8k;
  if (name == "svamp") return Format::kSvamp;
  if (name == "asdiv") return Format::kAsdiv;
  if (name == "minerva_math") return Format::kMinerva;
  if (name == "olympiadbench") return Format::kOlympiad;
  if (name == "mmlu_stem") return Format::kMmlu;
  return Format::kGeneric;
}

// A field that must be there (null counts as absent).
const json& field(const json& j, const std::string& name, const std::string& where) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) throw DatasetError(where + "no field \"" + name + "\"");
  return *it;
}

std::string string_field(const json& j, const std::string& name, const std::string& where) {
  const json& v = field(j, name, where);
  if (!v.is_string()) throw DatasetError(where + "field \"" + name + "\" is not a string");
  return v.get<std::string>();
}

// A string or a number (as JSON writes it).
std::string text_or_number(const json& j, const std::string& name, const std::string& where) {
  const json& v = field(j, name, where);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  throw DatasetError(where + "field \"" + name + "\" is neither a string nor a number");
}

std::vector<std::string> choices_of(const json& j, const std::string& name, const std::string& where) {
  const json& v = field(j, name, where);
  if (!v.is_array() || v.empty()) throw DatasetError(where + "field \"" + name + "\" is not a non-empty list");
  std::vector<std::string> out;
  for (const auto& c : v) {
    if (c.is_string()) out.push_back(c.get<std::string>());
    else if (c.is_number()) out.push_back(c.dump());
    else throw DatasetError(where + "field \"" + name + "\" holds an entry that is neither a string nor a number");
  }
  if (out.size() > 5) throw DatasetError(where + "field \"" + name + "\" has more than 5 choices (A-E)");
  return out;
}

// A 0-based index (number or digit string) or a letter -> the letter.
std::string choice_gold(const json& a, size_t n_choices, const std::string& name, const std::string& where) {
  int index = -1;
  if (a.is_number_integer()) index = a.get<int>();
  else if (a.is_string()) {
    const std::string s = trim(a.get<std::string>());
    if (s.size() == 1 && s[0] >= '0' && s[0] <= '9') index = s[0] - '0';
    else if (s.size() == 1 && ((s[0] >= 'A' && s[0] <= 'E') || (s[0] >= 'a' && s[0] <= 'e')))
      index = (s[0] >= 'a' ? s[0] - 'a' : s[0] - 'A');
  }
  if (index < 0 || static_cast<size_t>(index) >= n_choices)
    throw DatasetError(where + "field \"" + name + "\" is not a choice index (0.." + std::to_string(n_choices - 1) +
                       ") or letter: " + a.dump());
  return std::string(1, static_cast<char>('A' + index));
}

std::string with_context(const std::string& context, const std::string& question) {
  std::string c = trim(context);
  if (c.empty()) return trim(question);
  if (c.back() != '.') c += ".";
  return c + " " + trim(question);
}

EvalProblem parse_line(const json& j, const EvalDataset& d, Format format, int64_t id, const std::string& where) {
  EvalProblem p;
  p.id = id;
  std::string question = string_field(j, d.question_field, where);
  if (!d.context_field.empty()) question = with_context(string_field(j, d.context_field, where), question);
  try {
    switch (format) {
      case Format::kGsm8k:
        p.gold = gold_answer_gsm8k(string_field(j, d.answer_field, where));
        p.kind = AnswerKind::kGsm8k;
        break;
      case Format::kSvamp: {
        const json& a = field(j, d.answer_field, where);
        if (!a.is_number()) throw DatasetError(where + "field \"" + d.answer_field + "\" is not a number");
        p.gold = gold_answer_svamp(a.get<double>());
        p.kind = AnswerKind::kNumber;
        break;
      }
      case Format::kAsdiv:
        p.gold = gold_answer_asdiv(text_or_number(j, d.answer_field, where));
        p.kind = AnswerKind::kMath;
        break;
      case Format::kMinerva:
        p.gold = gold_answer_minerva(string_field(j, d.answer_field, where));
        p.kind = AnswerKind::kMath;
        break;
      case Format::kOlympiad: {
        const json& a = field(j, d.answer_field, where);
        std::vector<std::string> list;
        if (a.is_string()) list.push_back(a.get<std::string>());
        else if (a.is_array())
          for (const auto& x : a) {
            if (!x.is_string()) throw DatasetError(where + "field \"" + d.answer_field + "\" holds a non-string");
            list.push_back(x.get<std::string>());
          }
        else throw DatasetError(where + "field \"" + d.answer_field + "\" is neither a list nor a string");
        p.gold = gold_answer_olympiadbench(list);
        p.kind = AnswerKind::kMath;
        break;
      }
      case Format::kMmlu:
      case Format::kGeneric:
        if (!d.choices_field.empty()) {
          const std::vector<std::string> choices = choices_of(j, d.choices_field, where);
          p.gold = choice_gold(field(j, d.answer_field, where), choices.size(), d.answer_field, where);
          question = multiple_choice_question(question, choices);
          p.kind = AnswerKind::kChoice;
        } else if (format == Format::kMmlu) {
          throw DatasetError(where + "mmlu_stem needs a choices_field");
        } else {
          p.gold = text_or_number(j, d.answer_field, where);
          p.kind = AnswerKind::kAuto;
        }
        break;
    }
    grade_output("", p.gold, p.kind);  // throws when the grader cannot use this ground truth
  } catch (const DatasetError&) {
    throw;
  } catch (const std::exception& e) {
    throw DatasetError(where + "unusable ground truth in field \"" + d.answer_field + "\" (" + e.what() + ")");
  }
  const json& a = field(j, d.answer_field, where);
  if (a.is_string()) p.answer_text = a.get<std::string>();
  else if (a.is_number()) p.answer_text = a.dump();
  p.question = std::move(question);
  return p;
}

}  // namespace

std::string multiple_choice_question(const std::string& question, const std::vector<std::string>& choices) {
  std::string s = trim(question) + "\nAnswer Choices:";
  for (size_t i = 0; i < choices.size(); ++i)
    s += std::string(" (") + static_cast<char>('A' + i) + ") " + trim(choices[i]);
  return s;
}

std::vector<EvalProblem> load_eval_dataset(const EvalDataset& dataset, int64_t limit) {
  if (dataset.file.empty()) throw DatasetError("dataset \"" + dataset.name + "\": no file");
  if (dataset.question_field.empty() || dataset.answer_field.empty())
    throw DatasetError(dataset.file + ": dataset \"" + dataset.name + "\": empty question or answer field name");
  std::ifstream in(dataset.file, std::ios::binary);
  if (!in) throw DatasetError(dataset.file + ": cannot open the dataset file (dataset \"" + dataset.name + "\")");
  const Format format = format_of(dataset.name);
  std::vector<EvalProblem> out;
  std::string line;
  bool too_long = false;
  for (int64_t index = 0; read_bounded_line(in, line, too_long); ++index) {
    if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) break;
    const std::string where = dataset.file + ":" + std::to_string(index + 1) + ": ";
    if (too_long) throw DatasetError(where + line_too_long_message());
    if (is_blank(line)) continue;
    if (json_too_deep(line)) throw DatasetError(where + json_too_deep_message());
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
      throw DatasetError(where + "not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) throw DatasetError(where + "not a JSON object");
    out.push_back(parse_line(j, dataset, format, index, where));
  }
  if (in.bad()) throw DatasetError(dataset.file + ": read error");
  if (out.empty()) throw DatasetError(dataset.file + ": no problems in the dataset file (dataset \"" + dataset.name + "\")");
  return out;
}

}  // namespace lr::driver
