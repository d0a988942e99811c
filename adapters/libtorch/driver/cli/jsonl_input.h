// Input of the verbs that read stdin: one JSON string per line. All lines
// are read and checked before any output, so a bad line costs no partial output.
#pragma once

#include <istream>
#include <string>
#include <vector>

namespace lr::driver::cli {

// Throws std::runtime_error naming the line number and what is wrong.
// Empty lines are refused too (an empty prompt is written "").
std::vector<std::string> read_json_string_lines(std::istream& in);

}  // namespace lr::driver::cli
