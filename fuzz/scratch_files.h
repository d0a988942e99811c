// The readers under test take paths: each input is written to a file in one
// private folder per process (under TMPDIR, removed at exit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace lr::fuzz {

// The process's folder, made on first use.
const std::string& scratch_dir();

// Writes bytes to scratch_dir()/name (replacing it); returns the path.
std::string write_scratch(const std::string& name, const std::string& bytes);

// Removes scratch_dir()/name if present.
void remove_scratch(const std::string& name);

}  // namespace lr::fuzz
