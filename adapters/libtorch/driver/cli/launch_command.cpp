// lightreasoner launch --nproc N [--master-port P] [--peer-grace S] -- VERB ARGS...:
// N local ranks of this program running VERB ARGS, as `torchrun --standalone
// --nproc-per-node N` would start them (distributed/launcher.h: the
// variables, signals, failures). Exits 0 when every rank succeeded, else with
// the failed rank's status (128 + signal), or 128 + the signal forwarded.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "config/defaults.h"
#include "config_verb.h"
#include "distributed/launcher.h"

namespace lr::driver::cli {

namespace {

struct LaunchArgs {
  dist::LaunchOptions options;
  std::string program;  // hidden --program: run this executable instead (the tests' probe)
  std::vector<std::string> command;
};

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// This program's path as the ranks' argv[0] (the executable itself is /proc/self/exe).
std::string own_path() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : "lightreasoner";
}

void run_launch(LaunchArgs& a) {
  dist::LaunchOptions o = a.options;
  if (a.program.empty()) {
    const std::string& verb = a.command.front();
    const std::vector<std::string>& verbs = distributed_verbs();
    if (std::find(verbs.begin(), verbs.end(), verb) == verbs.end())
      throw CLI::ValidationError("'" + verb + "' is not a verb that runs as ranks (" + joined(verbs) + ")");
    o.program = "/proc/self/exe";
    o.argv0 = own_path();
  } else {
    o.program = a.program;
  }
  o.args = a.command;
  const dist::LaunchOutcome out = dist::launch(o);
  if (!out.message.empty()) std::cerr << "lightreasoner launch: " << out.message << std::endl;
  if (out.status != 0) throw VerbExit{out.status};
}

}  // namespace

void add_launch_command(CLI::App& app) {
  auto a = std::make_shared<LaunchArgs>();
  a->options.grace_s = defaults::launch::peer_grace;
  CLI::App* cmd = app.add_subcommand(
      "launch",
      "Start N local ranks of a stage, as torchrun --standalone does: lightreasoner launch --nproc N -- run "
      "--config FILE (Ctrl-C is forwarded; a failed rank stops the others and is named)");
  cmd->add_option("--nproc", a->options.nproc, "ranks to start (one per GPU: rank r uses cuda:r)")
      ->required()
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--master-port", a->options.master_port,
                  "the rendezvous port on 127.0.0.1 (default: a free one)")
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--peer-grace", a->options.grace_s,
                  "after a rank fails: seconds between SIGTERM and SIGKILL for the others (and the "
                  "longest wait for the cause of a peer-lost exit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--program", a->program, "run this executable instead of lightreasoner (tests)")->group("");
  cmd->add_option("command", a->command, "-- VERB ARGS...: the stage each rank runs")->required();
  cmd->callback([a] { run_launch(*a); });
}

}  // namespace lr::driver::cli
