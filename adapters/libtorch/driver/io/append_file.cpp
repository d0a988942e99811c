#include "io/append_file.h"

#include "io/whole_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace lr::driver {

AppendFile::AppendFile(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw AppendError(path_ + ": cannot open for appending: " + std::strerror(errno));
}

AppendFile::AppendFile(AppendFile&& o) noexcept : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)) {}

AppendFile& AppendFile::operator=(AppendFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::append(std::string_view bytes) {
  if (bytes.empty()) return;
  if (fd_ < 0) throw AppendError(path_ + ": not open for appending");
  if (const int err = write_whole(fd_, bytes)) throw AppendError(path_ + ": cannot append: " + std::strerror(err));
  if (::fsync(fd_) != 0) throw AppendError(path_ + ": cannot fsync: " + std::strerror(errno));
}

}  // namespace lr::driver
