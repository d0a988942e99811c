#include "io/whole_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <iostream>

namespace lr::driver {

int read_whole_file(const std::string& path, std::string& text) {
  text.clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;  // EISDIR for a folder
      ::close(fd);
      text.clear();
      return err;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return 0;
}

int write_whole(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), std::min<size_t>(bytes.size(), size_t{1} << 30));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;  // a regular file or pipe never takes nothing for something
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

void say_to_stderr(std::string_view message) {
  std::cerr.flush();  // what the stream holds goes first, in order
  std::fflush(stderr);
  write_whole(STDERR_FILENO, message);
}

}  // namespace lr::driver
