// Running gnuplot on a generated script (the report's plots).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace lr::driver {

// A single-quoted gnuplot string.
std::string gp_quote(const std::string& s);

// The path of an executable `name` on PATH, if any.
std::optional<std::string> find_program(const std::string& name);

// Runs `gnuplot script` with its output in `log`; the exit status, or -1.
int run_gnuplot(const std::string& gnuplot, const std::filesystem::path& script, const std::filesystem::path& log);

}  // namespace lr::driver
