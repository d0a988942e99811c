// The length bound of every JSON line the driver reads. Files we write have
// lines of a few KB; a stranger's file may hold one line of gigabytes, which
// std::getline would take whole into memory. Readers go through these, so a
// line is held only up to the bound and the rest of it is skipped unread:
// memory stays O(kMaxJsonLineBytes) and time O(file size).
#pragma once

#include <cstddef>
#include <istream>
#include <optional>
#include <string>
#include <string_view>

namespace lr::driver {

inline constexpr size_t kMaxJsonLineBytes = size_t{64} << 20;  // 64 MiB; real lines are < 1 MiB

// The next line of `in` without its '\n' (false at the end of input). When
// the line is longer than kMaxJsonLineBytes, `line` holds its first
// kMaxJsonLineBytes bytes, the rest is consumed, and too_long is true.
bool read_bounded_line(std::istream& in, std::string& line, bool& too_long);

// The message tail every reader uses: "a line longer than 64 MiB".
std::string line_too_long_message();

// For readers that take a whole file at once, on the text they read (so the
// file is read once): "PATH:N: a line longer than 64 MiB" for the first such
// line of `text`, or nullopt. Lines are counted as the readers count them.
std::optional<std::string> first_overlong_line(std::string_view text, const std::string& path);

}  // namespace lr::driver
