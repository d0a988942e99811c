#include "io/atomic_file.h"

#include "io/whole_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace lr::driver {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what, const std::string& temp, int err) {
  ::unlink(temp.c_str());
  throw AtomicWriteError(path + ": " + what + " " + temp + ": " + std::strerror(err));
}

void write_all(int fd, const ByteChunk& c, const std::string& path, const std::string& temp) {
  const int err = write_whole(fd, std::string_view(static_cast<const char*>(c.data), c.size));
  if (err != 0) {
    ::close(fd);
    fail(path, "cannot write", temp, err);
  }
}

void sync_and_close(int fd, const std::string& path, const std::string& temp) {
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail(path, "cannot fsync", temp, err);
  }
  if (::close(fd) != 0) fail(path, "cannot close", temp, errno);
}

// Makes the rename durable too (best effort: some file systems refuse fsync on folders).
void sync_parent(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  const int dfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

void rename_into_place(const std::string& temp, const std::string& path) {
  if (::rename(temp.c_str(), path.c_str()) != 0) fail(path, "cannot rename", temp, errno);
  sync_parent(path);
}

}  // namespace

std::string temp_path_for(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

void write_chunks_atomically(const std::string& path, const std::vector<ByteChunk>& chunks) {
  const std::string temp = temp_path_for(path);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw AtomicWriteError(path + ": cannot create " + temp + ": " + std::strerror(errno));
  for (const ByteChunk& c : chunks) write_all(fd, c, path, temp);
  sync_and_close(fd, path, temp);
  rename_into_place(temp, path);
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  write_chunks_atomically(path, {{bytes.data(), bytes.size()}});
}

}  // namespace lr::driver
