// A JSON-lines file a resumed run reads back, appended to a block of whole
// lines at a time: each block is written completely (every write checked) and
// fsync'ed, or the append throws an error naming the file and the system's
// reason (ENOSPC: a full disk). A block cut short by a crash or a full disk
// leaves a torn last line, which the file's reader drops on resume.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace lr::driver {

class AppendError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class AppendFile {
 public:
  AppendFile() = default;
  // Opens PATH for appending, creating it (not its folder) when absent.
  explicit AppendFile(std::string path);
  AppendFile(AppendFile&& o) noexcept;
  AppendFile& operator=(AppendFile&& o) noexcept;
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  ~AppendFile();

  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  void append(std::string_view bytes);

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace lr::driver
