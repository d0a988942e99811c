// Writing a file so that a reader (or a run resumed after a kill) sees its old
// contents or its new ones, never a part: the bytes go to PATH.tmp.<pid>
// beside it, every write is checked, the file is fsync'ed and closed, renamed
// over PATH, and the folder fsync'ed (best effort: some file systems refuse).
// Every file the driver writes whole goes through here (the JSON-lines files
// it appends to: append_file.h); a failed write removes the temporary file.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lr::driver {

// The message names PATH, the step that failed and the system's reason.
class AtomicWriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ByteChunk {
  const void* data;
  size_t size;
};

// Writes the chunks one after the other as PATH's new contents.
void write_chunks_atomically(const std::string& path, const std::vector<ByteChunk>& chunks);

void write_file_atomically(const std::string& path, std::string_view bytes);

// PATH.tmp.<pid>: the temporary name the functions above use.
std::string temp_path_for(const std::string& path);

}  // namespace lr::driver
