#include "problems.h"
#include "io/bounded_lines.h"
#include "io/json_depth.h"

#include <fstream>
#include <nlohmann/json.hpp>

namespace lr::driver {

namespace {

bool is_blank(const std::string& s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  return true;
}

}  // namespace

std::vector<Problem> read_problems(const std::string& path, const std::string& question_field,
                                   const std::string& answer_field) {
  if (question_field.empty()) throw ProblemsError("read_problems: the question field name is empty");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ProblemsError(path + ": cannot open the problems file");
  std::vector<Problem> out;
  std::string line;
  bool too_long = false;
  int64_t index = 0;
  for (; read_bounded_line(in, line, too_long); ++index) {
    const std::string where = path + ":" + std::to_string(index + 1) + ": ";
    if (too_long) throw ProblemsError(where + line_too_long_message());
    if (is_blank(line)) continue;
    if (json_too_deep(line)) throw ProblemsError(where + json_too_deep_message());
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
      throw ProblemsError(where + "not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) throw ProblemsError(where + "not a JSON object");
    Problem p;
    p.id = index;
    const auto q = j.find(question_field);
    if (q == j.end()) throw ProblemsError(where + "no field \"" + question_field + "\"");
    if (!q->is_string()) throw ProblemsError(where + "field \"" + question_field + "\" is not a string");
    p.question = q->get<std::string>();
    if (!answer_field.empty()) {
      const auto a = j.find(answer_field);
      if (a == j.end()) throw ProblemsError(where + "no field \"" + answer_field + "\"");
      if (a->is_string()) p.answer = a->get<std::string>();
      else if (a->is_number()) p.answer = a->dump();
      else throw ProblemsError(where + "field \"" + answer_field + "\" is neither a string nor a number");
    }
    out.push_back(std::move(p));
  }
  if (in.bad()) throw ProblemsError(path + ": read error");
  return out;
}

}  // namespace lr::driver
