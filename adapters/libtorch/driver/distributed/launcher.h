// `lightreasoner launch`: N local ranks of one program, as `torchrun
// --standalone --nproc-per-node N` starts them. Each rank gets the launch
// environment (launch_env.h: RANK=r, WORLD_SIZE=N, LOCAL_RANK=r,
// LOCAL_WORLD_SIZE=N, MASTER_ADDR=127.0.0.1, MASTER_PORT) on top of the
// launcher's own, and inherits its stdout and stderr.
//
// Signals. SIGINT and SIGTERM sent to the launcher are forwarded once to every
// rank (each rank runs in its own process group, so a terminal's Ctrl-C
// reaches it through the launcher only, exactly once); a second one kills the
// ranks at once. A rank outlives the launcher by nothing: it gets SIGTERM when
// the launcher dies.
//
// Failures. When a rank fails (non-zero exit, or killed by a signal) the
// launcher stops the others: SIGTERM, then SIGKILL after the grace period.
// Ranks stopped because a peer was lost exit dist::kExitPeerLost (75), and may
// exit before the launcher sees the rank that caused it; so a first failure
// with 75 waits up to the grace period for the others to exit on their own
// before stopping them, and the failure named is the first one that is not
// 75 (the cause), else the first one.
#pragma once

#include <string>
#include <vector>

namespace lr::driver::dist {

struct LaunchOptions {
  int nproc = 1;
  int master_port = 0;  // 0: a free port on 127.0.0.1, picked by the launcher
  double grace_s = 0;   // SIGTERM to SIGKILL, seconds (the CLI's default: defaults::launch::peer_grace)
  std::string program;  // the executable each rank runs (the CLI: /proc/self/exe)
  std::string argv0;    // the ranks' argv[0] ("": program)
  std::vector<std::string> args;  // their arguments (argv[1:])
};

struct LaunchOutcome {
  int status = 0;       // the launcher's exit status
  std::string message;  // one line for stderr ("" when every rank succeeded)
};

// How a rank ended, as waitpid reported it.
struct RankExit {
  int rank = 0;
  bool signaled = false;
  int code = 0;  // the exit status, or the signal number when signaled
};

// The launcher's exit status for a rank that ended so: its exit status, or
// 128 + the signal.
int exit_status_of(const RankExit& e);
// "exit status 1", "killed by SIGKILL".
std::string describe(const RankExit& e);
// The failure to name among `failures` (in the order they were seen): the
// first that is not dist::kExitPeerLost, else the first. `failures` is not empty.
RankExit root_cause(const std::vector<RankExit>& failures);

// Runs the ranks to the end: status 0 when every rank succeeded; after a
// failure, the named failure's (exit_status_of) and "rank R of N failed
// (...); stopped the other ranks"; after a forwarded SIGINT / SIGTERM,
// 128 + the signal. Throws std::runtime_error when the ranks cannot be
// started (the program is not executable, fork fails, no free port).
LaunchOutcome launch(const LaunchOptions& options);

}  // namespace lr::driver::dist
