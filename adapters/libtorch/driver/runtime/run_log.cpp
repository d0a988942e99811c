#include "runtime/run_log.h"

#include "distributed/process_group.h"
#include "io/whole_io.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <stdexcept>

namespace lr::driver {
namespace {

// Whether the stderr behind the live RunLog is a terminal; -1: no RunLog.
std::atomic<int> terminal_behind_log{-1};

std::string clock_text() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace

RunLog::RunLog(const std::string& out_dir, const std::string& verb) {
  const std::filesystem::path dir = std::filesystem::path(out_dir) / "logs";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  path_ = (dir / (verb + ".log")).string();
  file_ = std::fopen(path_.c_str(), "a");
  if (!file_) throw std::runtime_error("cannot open the log " + path_ + ": " + std::strerror(errno));
  std::fprintf(file_, "== %s lightreasoner %s\n", clock_text().c_str(), verb.c_str());
  std::fflush(file_);

  int fds[2];
  std::cerr.flush();
  std::fflush(stderr);
  if (::pipe(fds) != 0) {
    std::fclose(file_);
    throw std::runtime_error(std::string("cannot make the log's pipe: ") + std::strerror(errno));
  }
  saved_stderr_ = ::dup(STDERR_FILENO);
  terminal_behind_log = ::isatty(saved_stderr_) ? 1 : 0;
  ::dup2(fds[1], STDERR_FILENO);
  ::close(fds[1]);
  pipe_read_ = fds[0];
  copier_ = std::thread([this] { copy_loop(); });
  dist::set_stop_hook([this] { drain(); });
}

void RunLog::drain() {
  std::cerr.flush();
  std::fflush(stderr);
  ::dup2(saved_stderr_, STDERR_FILENO);  // the pipe's last writer closes: the copier sees EOF
  terminal_behind_log = -1;
  copier_.join();
}

RunLog::~RunLog() {
  dist::set_stop_hook({});  // after a stop has drained, this waits for the exit
  drain();
  ::close(saved_stderr_);
  ::close(pipe_read_);
  std::fclose(file_);
}

bool stderr_is_terminal() {
  const int behind_log = terminal_behind_log;
  return behind_log >= 0 ? behind_log == 1 : ::isatty(STDERR_FILENO) != 0;
}

void RunLog::note(const std::string& line) {
  std::fprintf(file_, "%s %s\n", clock_text().c_str(), line.c_str());  // stdio locks file_ against the copier
  std::fflush(file_);
}

// Bytes to the terminal in writes that end where a write into the pipe
// ended, so ranks sharing a terminal (`launch`) cannot cut into each other's
// lines. The pipe keeps each write of up to PIPE_BUF bytes whole: a read
// shorter than the buffer took whole writes only, and all of it goes on at
// once (a progress redraw too); a read that filled the buffer may have cut
// its last write, so that goes on up to its last line end and the rest waits
// for the next read (up to kHeldBytesMax, or the pipe's end).
void RunLog::forward(std::string& pending, bool read_filled_buffer, bool at_end) {
  constexpr size_t kHeldBytesMax = size_t{64} << 10;
  size_t take = pending.size();
  if (read_filled_buffer && !at_end && pending.size() < kHeldBytesMax) {
    const size_t last = pending.find_last_of("\n\r");
    take = last == std::string::npos ? 0 : last + 1;
  }
  write_whole(saved_stderr_, std::string_view(pending.data(), take));  // the terminal gone: log to the file still
  pending.erase(0, take);
}

void RunLog::copy_loop() {
  std::string line;
  std::string pending;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(pipe_read_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, size_t(n));
    forward(pending, size_t(n) == sizeof buf, false);
    for (ssize_t i = 0; i < n; ++i) {
      const char ch = buf[i];
      if (ch == '\r') {
        line.clear();  // a progress redraw: only its final state reaches the file
      } else if (ch == '\n') {
        std::fprintf(file_, "%s %s\n", clock_text().c_str(), line.c_str());
        line.clear();
      } else {
        line += ch;
      }
    }
    std::fflush(file_);
  }
  forward(pending, false, true);
  if (!line.empty()) std::fprintf(file_, "%s %s\n", clock_text().c_str(), line.c_str());
  std::fflush(file_);
}

}  // namespace lr::driver
