// Input of the verbs that read stdin (tokenize, generate, grade): one JSON
// value per line. All lines are read and checked before any output, so a bad
// line costs no partial output. Errors name the line: "stdin line N: ...".
#pragma once

#include <cstddef>
#include <functional>
#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lr::driver {

// Throws std::runtime_error("stdin line <number>: <what>").
[[noreturn]] void bad_stdin_line(size_t number, const std::string& what);

// Calls `take` with each line parsed and its number, in order (a trailing
// '\r' dropped); an empty or non-JSON line is an error. `take` may reject a
// value with bad_stdin_line.
void for_each_json_line(std::istream& in, const std::function<void(const nlohmann::json&, size_t)>& take);

// Every line a JSON string (an empty prompt is written ""), else an error.
std::vector<std::string> read_json_string_lines(std::istream& in);

}  // namespace lr::driver
