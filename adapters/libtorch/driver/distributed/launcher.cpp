#include "distributed/launcher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <optional>
#include <stdexcept>

#include "distributed/launch_env.h"
#include "distributed/process_group.h"

extern char** environ;

namespace lr::driver::dist {

int exit_status_of(const RankExit& e) { return e.signaled ? 128 + e.code : e.code; }

std::string describe(const RankExit& e) {
  if (!e.signaled) return "exit status " + std::to_string(e.code);
  const char* abbrev = sigabbrev_np(e.code);
  return "killed by " + (abbrev ? "SIG" + std::string(abbrev) : "signal " + std::to_string(e.code));
}

RankExit root_cause(const std::vector<RankExit>& failures) {
  for (const RankExit& e : failures)
    if (e.signaled || e.code != kExitPeerLost) return e;
  return failures.at(0);
}

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

// ---- signals: the handlers only write the signal's number into a pipe that
// the launcher's loop polls, so any thread may take them.
int g_pipe[2] = {-1, -1};

extern "C" void on_signal(int sig) {
  const int saved = errno;
  const unsigned char b = static_cast<unsigned char>(sig);
  [[maybe_unused]] const ssize_t n = ::write(g_pipe[1], &b, 1);
  errno = saved;
}

constexpr int kRelayed[] = {SIGINT, SIGTERM, SIGCHLD};

class SignalRelay {
 public:
  SignalRelay() {
    if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) fail("pipe");
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < std::size(kRelayed); ++i) ::sigaction(kRelayed[i], &sa, &previous_[i]);
  }
  ~SignalRelay() {
    for (size_t i = 0; i < std::size(kRelayed); ++i) ::sigaction(kRelayed[i], &previous_[i], nullptr);
    ::close(g_pipe[0]);
    ::close(g_pipe[1]);
    g_pipe[0] = g_pipe[1] = -1;
  }
  SignalRelay(const SignalRelay&) = delete;
  SignalRelay& operator=(const SignalRelay&) = delete;

  // Waits up to `timeout_ms` (-1: no limit) for signals; returns those taken.
  std::vector<int> wait(int timeout_ms) {
    pollfd p{g_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) < 0 && errno != EINTR) fail("poll");
    std::vector<int> out;
    unsigned char buf[64];
    for (ssize_t n; (n = ::read(g_pipe[0], buf, sizeof buf)) > 0;) out.insert(out.end(), buf, buf + n);
    return out;
  }

 private:
  struct sigaction previous_[std::size(kRelayed)] {};
};

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  if (!ok) fail("no free port on 127.0.0.1");
  return ntohs(a.sin_port);
}

// The launcher's environment without the six launch variables, then rank r's.
std::vector<std::string> rank_environment(int r, int n, int port) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    bool launch_var = false;
    for (const char* name : kLaunchEnvNames) launch_var |= kv.rfind(std::string(name) + "=", 0) == 0;
    if (!launch_var) env.push_back(kv);
  }
  const std::string values[] = {std::to_string(r), std::to_string(n), std::to_string(r), std::to_string(n),
                                "127.0.0.1", std::to_string(port)};
  for (size_t i = 0; i < std::size(kLaunchEnvNames); ++i) env.push_back(std::string(kLaunchEnvNames[i]) + "=" + values[i]);
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (std::string& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// In the child between fork and exec (async-signal-safe calls only): its own
// process group, SIGTERM when the launcher dies, default signal handling.
[[noreturn]] void exec_rank(const char* program, char** argv, char** envp, pid_t launcher) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != launcher) ::_exit(128 + SIGTERM);  // the launcher died before prctl
  for (int sig : kRelayed) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(program, argv, envp);
  const char msg[] = "lightreasoner launch: exec failed\n";
  [[maybe_unused]] const ssize_t n = ::write(2, msg, sizeof msg - 1);
  ::_exit(127);
}

struct Rank {
  pid_t pid = -1;
  bool alive = false;
  bool stopped = false;  // signalled by the launcher: its exit is not a failure
};

class Job {
 public:
  explicit Job(const LaunchOptions& o) : o_(o) {}

  LaunchOutcome run() {
    start();
    while (any_alive()) step();
    return outcome();
  }

 private:
  void start() {
    const int port = o_.master_port ? o_.master_port : free_port();
    std::vector<std::string> argv{o_.argv0.empty() ? o_.program : o_.argv0};
    argv.insert(argv.end(), o_.args.begin(), o_.args.end());
    std::vector<char*> c_argv = c_strings(argv);
    ranks_.resize(o_.nproc);
    for (int r = 0; r < o_.nproc; ++r) {
      std::vector<std::string> env = rank_environment(r, o_.nproc, port);
      std::vector<char*> c_env = c_strings(env);
      // Signals stay blocked across fork, so the child never runs the launcher's handler.
      sigset_t all, before;
      sigfillset(&all);
      ::sigprocmask(SIG_BLOCK, &all, &before);
      const pid_t launcher = ::getpid();
      const pid_t pid = ::fork();
      if (pid == 0) exec_rank(o_.program.c_str(), c_argv.data(), c_env.data(), launcher);
      const int fork_errno = errno;
      ::sigprocmask(SIG_SETMASK, &before, nullptr);
      if (pid < 0) {
        kill_all(SIGKILL);
        while (any_alive()) reap(true);
        errno = fork_errno;
        fail("fork");
      }
      ::setpgid(pid, pid);  // also here, so that signals to the group work before the child runs
      ranks_[r] = {pid, true, false};
    }
  }

  bool any_alive() const {
    for (const Rank& r : ranks_)
      if (r.alive) return true;
    return false;
  }

  // Signals every live rank's process group (the rank and what it started).
  void kill_all(int sig, bool mark_stopped = true) {
    for (Rank& r : ranks_) {
      if (!r.alive) continue;
      if (::kill(-r.pid, sig) != 0) ::kill(r.pid, sig);
      r.stopped |= mark_stopped;
    }
  }

  void reap(bool block = false) {
    for (int i = 0; i < int(ranks_.size()); ++i) {
      Rank& r = ranks_[i];
      if (!r.alive) continue;
      int st = 0;
      pid_t got;
      while ((got = ::waitpid(r.pid, &st, block ? 0 : WNOHANG)) < 0 && errno == EINTR) {
      }
      if (got != r.pid) continue;
      r.alive = false;
      const RankExit e{i, WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st)};
      if ((e.signaled || e.code != 0) && !r.stopped && forwarded_ == 0) failures_.push_back(e);
    }
  }

  void on_signal(int sig) {
    if (sig == SIGCHLD) return;  // reaped after every wake-up
    if (forwarded_ == 0 && failures_.empty()) {
      forwarded_ = sig;
      kill_all(sig, false);
    } else {
      kill_all(SIGKILL);  // a second request, or one while stopping after a failure: at once
    }
  }

  // After a failure: the others are stopped at once when its cause is known
  // (a failure other than the peer-lost status), else after the grace period.
  void handle_failures(Clock::time_point now) {
    if (failures_.empty() || stopping_) return;
    const RankExit cause = root_cause(failures_);
    if (!settle_deadline_) settle_deadline_ = now + grace();
    if (cause.signaled || cause.code != kExitPeerLost || now >= *settle_deadline_) {
      stopping_ = true;
      kill_all(SIGTERM);
      kill_deadline_ = now + grace();
    }
  }

  void step() {
    std::optional<Clock::time_point> next;
    if (!stopping_ && settle_deadline_) next = settle_deadline_;
    if (stopping_ && !killed_) next = kill_deadline_;
    int timeout_ms = -1;
    if (next) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*next - Clock::now()).count();
      timeout_ms = int(std::max<int64_t>(0, left) + 1);
    }
    for (int sig : relay_.wait(timeout_ms)) on_signal(sig);
    reap();
    const auto now = Clock::now();
    handle_failures(now);
    if (stopping_ && !killed_ && now >= kill_deadline_) {
      killed_ = true;
      kill_all(SIGKILL);
    }
  }

  Clock::duration grace() const {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.grace_s));
  }

  LaunchOutcome outcome() const {
    const std::string of_n = " of " + std::to_string(o_.nproc);
    if (!failures_.empty()) {
      const RankExit cause = root_cause(failures_);
      return {exit_status_of(cause), "rank " + std::to_string(cause.rank) + of_n + " failed (" + describe(cause) +
                                         ")" + (o_.nproc > 1 ? "; stopped the other ranks" : "")};
    }
    if (forwarded_) {
      return {128 + forwarded_, "stopped by SIG" + std::string(sigabbrev_np(forwarded_)) +
                                    " (forwarded to every rank); rerun the same command to resume"};
    }
    return {0, ""};
  }

  const LaunchOptions& o_;
  SignalRelay relay_;
  std::vector<Rank> ranks_;
  std::vector<RankExit> failures_;  // in the order seen, ranks the launcher stopped left out
  int forwarded_ = 0;               // the SIGINT / SIGTERM forwarded, 0 if none
  std::optional<Clock::time_point> settle_deadline_;
  bool stopping_ = false, killed_ = false;
  Clock::time_point kill_deadline_;
};

}  // namespace

LaunchOutcome launch(const LaunchOptions& options) {
  if (options.nproc < 1) throw std::invalid_argument("--nproc must be at least 1");
  if (options.master_port < 0 || options.master_port > 65535)
    throw std::invalid_argument("--master-port must be in 1..65535");
  if (!(options.grace_s >= 0)) throw std::invalid_argument("--peer-grace must be >= 0 seconds");
  if (::access(options.program.c_str(), X_OK) != 0) fail("cannot run " + options.program);
  return Job(options).run();
}

}  // namespace lr::driver::dist
