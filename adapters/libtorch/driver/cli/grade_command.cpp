// lightreasoner grade [--kind auto|gsm8k|number|math|choice]
// stdin: one JSON object per line, {"output": "<model text>", "gold": "<ground truth>"}
// (optional "kind" per line); stdout: one {"pred": "<extracted answer>", "correct": true|false}
// per line. Every line is read and checked before anything is printed.
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "grading/grading.h"
#include "io/stdin_json_lines.h"

namespace lr::driver::cli {

namespace {

struct GradeArgs {
  std::string kind = "auto";
};

struct GradeLine {
  std::string output;
  std::string gold;
  AnswerKind kind = AnswerKind::kAuto;
};

// A gold may be a JSON string or a number (SVAMP writes 145.0).
std::string gold_text(const nlohmann::json& gold, size_t number) {
  if (gold.is_string()) return gold.get<std::string>();
  if (gold.is_number()) return gold.dump();
  bad_stdin_line(number, "\"gold\" must be a string or a number, got " + std::string(gold.type_name()));
}

// One line: {"output": ..., "gold": ..., "kind": ... (optional)}.
GradeLine grade_line(const nlohmann::json& value, size_t number, AnswerKind default_kind) {
  if (!value.is_object())
    bad_stdin_line(number, "expected a JSON object {\"output\": ..., \"gold\": ...}, got " +
                               std::string(value.type_name()));
  GradeLine item;
  const auto output = value.find("output");
  if (output == value.end()) bad_stdin_line(number, "no \"output\" field");
  if (!output->is_string()) bad_stdin_line(number, "\"output\" must be a string, got " + std::string(output->type_name()));
  item.output = output->get<std::string>();
  const auto gold = value.find("gold");
  if (gold == value.end()) bad_stdin_line(number, "no \"gold\" field");
  item.gold = gold_text(*gold, number);
  item.kind = default_kind;
  if (const auto kind = value.find("kind"); kind != value.end()) {
    const auto parsed = kind->is_string() ? parse_answer_kind(kind->get<std::string>()) : std::nullopt;
    if (!parsed) bad_stdin_line(number, "\"kind\" must be one of auto, gsm8k, number, math, choice; got " + kind->dump());
    item.kind = *parsed;
  }
  return item;
}

std::vector<GradeLine> read_grade_lines(std::istream& in, AnswerKind default_kind) {
  std::vector<GradeLine> lines;
  for_each_json_line(in, [&](const nlohmann::json& value, size_t number) {
    lines.push_back(grade_line(value, number, default_kind));
  });
  return lines;
}

void run_grade(const GradeArgs& args) {
  const std::vector<GradeLine> lines = read_grade_lines(std::cin, *parse_answer_kind(args.kind));
  std::vector<GradedAnswer> graded;
  graded.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    try {
      graded.push_back(grade_output(lines[i].output, lines[i].gold, lines[i].kind));
    } catch (const std::invalid_argument& e) {
      bad_stdin_line(i + 1, e.what());
    }
  }
  std::string out;
  for (const GradedAnswer& g : graded) {
    // ordered_json: "pred" first, as the issue writes the line.
    nlohmann::ordered_json line;
    line["pred"] = g.pred;
    line["correct"] = g.correct;
    out += line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    out += '\n';
  }
  std::cout << out << std::flush;
}

}  // namespace

void add_grade_command(CLI::App& app) {
  auto args = std::make_shared<GradeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "grade",
      "Grade model outputs: one JSON object {\"output\": \"<model text>\", \"gold\": \"<ground truth>\"} per stdin "
      "line in (optional \"kind\"), one {\"pred\": \"<extracted answer>\", \"correct\": true|false} per line out. "
      "Answers are extracted as the Qwen2.5-Math toolkit does (last \\boxed{}, else \"the answer is\", else the "
      "last number) and compared numerically (relative tolerance 1e-4, percentages x100 and /100) or as "
      "normalised text");
  cmd->add_option("--kind", args->kind,
                  "how to read lines without a \"kind\": auto (gsm8k when the gold holds ####, choice when it is a "
                  "letter A-E, else math), gsm8k, number, math, choice (MMLU letters)")
      ->check(CLI::IsMember({"auto", "gsm8k", "number", "math", "choice"}))
      ->capture_default_str();
  cmd->callback([args] { run_grade(*args); });
}

}  // namespace lr::driver::cli
