// Whether a PNG file is whole. gnuplot writes the report's plots straight into
// RUN/plots/; a full disk or a kill while it writes leaves a PNG cut short,
// which the report must not link as drawn.
#pragma once

#include <filesystem>

namespace lr::driver {

// True when `file` starts with the PNG signature and ends with the IEND chunk
// (the last chunk of every PNG: a cut file lacks it). Reads 20 bytes.
bool is_whole_png(const std::filesystem::path& file);

}  // namespace lr::driver
