// The nesting bound of every JSON text the driver reads. nlohmann parses any
// depth, but copying and printing a value recurse once per level: a line
// nested 100,000 deep would overflow the stack. Each reader refuses deeper
// text before parsing it, with its own error naming the file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lr::driver {

inline constexpr size_t kMaxJsonDepth = 512;  // real files nest < 10 levels

// True when arrays and objects in text nest deeper than kMaxJsonDepth
// (brackets inside strings do not count). One pass, no allocation.
bool json_too_deep(std::string_view text);

// The message tail every reader uses: "JSON nested deeper than 512 levels".
std::string json_too_deep_message();

}  // namespace lr::driver
