// RunLog: stderr is copied to the terminal and to RUN/logs/<verb>.log. What
// one write put into stderr reaches the terminal in one write (ranks sharing
// a terminal cannot cut into each other's lines), and a terminal behind the
// log still counts as one for progress bars.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "io/whole_io.h"
#include "runtime/run_log.h"

namespace fs = std::filesystem;
using lr::driver::RunLog;
using lr::driver::stderr_is_terminal;

namespace {

// Points stderr at `fd` for its lifetime.
class StderrTo {
 public:
  explicit StderrTo(int fd) : saved_(::dup(STDERR_FILENO)) { ::dup2(fd, STDERR_FILENO); }
  ~StderrTo() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
  }

 private:
  int saved_;
};

fs::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("lr_run_log_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

std::string file_text(const std::string& path) {
  std::string text;
  EXPECT_EQ(lr::driver::read_whole_file(path, text), 0) << path;
  return text;
}

}  // namespace

// The "terminal" is a SOCK_SEQPACKET socket: each recv returns exactly one of
// the copier's writes, so a line cut in two shows as a message that does not
// end at a line end. Lines of 1-4 KB written faster than the copier (which
// also writes the file) drains them make reads that fill its 4096-byte buffer
// and end mid-line: the copy used to pass such a cut on.
TEST(RunLog, EachWriteReachesTheTerminalWhole) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
  std::vector<std::string> messages;
  std::thread terminal([&] {
    std::vector<char> buf(size_t{1} << 17);
    for (ssize_t n; (n = ::recv(sv[1], buf.data(), buf.size(), 0)) > 0;) messages.emplace_back(buf.data(), size_t(n));
  });
  std::string written;
  const fs::path dir = scratch_dir("whole");
  std::string log_path;
  {
    StderrTo to_terminal(sv[0]);
    RunLog log(dir.string(), "verb");
    log_path = log.path();
    for (int i = 0; i < 400; ++i) {
      const std::string line = "line " + std::to_string(i) + " " + std::string(1000 + (i * 733) % 3000, 'a' + i % 26) + "\n";
      ASSERT_EQ(::write(STDERR_FILENO, line.data(), line.size()), ssize_t(line.size()));
      written += line;
    }
  }  // the log drains, then stderr is the test's again
  ::close(sv[0]);
  terminal.join();
  ::close(sv[1]);
  std::string received;
  for (const std::string& m : messages) {
    EXPECT_EQ(m.back(), '\n') << "a write cut mid-line: " << m.size() << " bytes ending '" << m.substr(m.size() - 8) << "'";
    received += m;
  }
  EXPECT_EQ(received, written);
  EXPECT_EQ(std::count(written.begin(), written.end(), '\n'), 400);
  const std::string file = file_text(log_path);
  EXPECT_NE(file.find(" line 399 "), std::string::npos);
  fs::remove_all(dir);
}

TEST(RunLog, RedrawsReachTheTerminalAtOnceAndOnlyFinalLinesTheFile) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  const fs::path dir = scratch_dir("redraw");
  std::string log_path, terminal;
  const auto take = [&] {
    char buf[256];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) terminal.append(buf, size_t(n));
  };
  {
    StderrTo to_terminal(fds[1]);
    RunLog log(dir.string(), "verb");
    log_path = log.path();
    const std::string redraw = "\rtrain: 1/2 updates";
    ASSERT_EQ(::write(STDERR_FILENO, redraw.data(), redraw.size()), ssize_t(redraw.size()));
    for (int waited = 0; terminal.size() < redraw.size() && waited < 1000; ++waited) {
      take();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(terminal, redraw) << "a redraw waits for a line end";
    const std::string rest = "\rtrain: 2/2 updates\nunended tail";
    ASSERT_EQ(::write(STDERR_FILENO, rest.data(), rest.size()), ssize_t(rest.size()));
  }
  take();
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_EQ(terminal, "\rtrain: 1/2 updates\rtrain: 2/2 updates\nunended tail");
  const std::string file = file_text(log_path);
  EXPECT_EQ(file.find("1/2"), std::string::npos) << "a redraw reached the file: " << file;
  EXPECT_NE(file.find(" train: 2/2 updates\n"), std::string::npos) << file;
  EXPECT_NE(file.find(" unended tail\n"), std::string::npos) << file;
  fs::remove_all(dir);
}

TEST(RunLog, ATerminalBehindTheLogStillCountsAsOne) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) GTEST_SKIP() << "no pseudo-terminal here";
  const int terminal = ::open(::ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(terminal, 0);
  const fs::path dir = scratch_dir("tty");
  {
    StderrTo to_terminal(terminal);
    EXPECT_TRUE(stderr_is_terminal());
    {
      RunLog log(dir.string(), "verb");
      EXPECT_FALSE(::isatty(STDERR_FILENO)) << "stderr is the log's pipe";
      EXPECT_TRUE(stderr_is_terminal());
    }
    EXPECT_TRUE(stderr_is_terminal());
  }
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  {
    StderrTo to_pipe(fds[1]);
    RunLog log(dir.string(), "verb");
    EXPECT_FALSE(stderr_is_terminal());
  }
  for (int fd : {fds[0], fds[1], terminal, master}) ::close(fd);
  fs::remove_all(dir);
}
