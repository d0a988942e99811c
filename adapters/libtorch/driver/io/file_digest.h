// A file's identity for the run's settings records (which adapter an eval
// scored, which supervision file a checkpoint was trained on): FNV-1a 64 of
// its bytes, as 16 hex digits. Not a cryptographic hash.
#pragma once

#include <string>

namespace lr::driver {

std::string file_digest(const std::string& path);

}  // namespace lr::driver
