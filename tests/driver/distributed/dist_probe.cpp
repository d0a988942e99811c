// A rank of a test job: joins the group its environment describes and
// exercises the collectives, printing one JSON line that test_process_group.py
// checks against the values each rank contributed.
//   dist_probe BACKEND PEER_TIMEOUT_S [--kill-rank R] [--pid-dir DIR] [--sleep S]
//              [--exit R:CODE:DELAY_S ...] [--ignore-sigterm] [--rendezvous S]
// With --kill-rank, rank R SIGKILLs itself after the first barrier and the
// others wait in a second barrier: the watchdog must stop them, naming rank R.
// For test_launch.py (the launcher): --pid-dir writes DIR/rank<R>.pid before
// joining and DIR/rank<R>.ready after the first barrier; --sleep waits S seconds after the first barrier (SIGINT, at any
// time, makes it print "interrupted", leave the group and exit 130 there); --exit makes rank R exit
// with CODE DELAY_S seconds after the first barrier, without leaving the
// group; --ignore-sigterm ignores SIGTERM (so only SIGKILL stops the rank).
#include <signal.h>
#include <unistd.h>

#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "distributed/launch_env.h"
#include "distributed/process_group.h"
#include "io/whole_io.h"

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted = true; }

struct Exit {
  int code;
  double delay_s;
};

struct ProbeArgs {
  int kill_rank = -1;
  std::string pid_dir;
  double sleep_s = 0;
  std::map<int, Exit> exits;  // rank -> how it exits
  bool ignore_sigterm = false;
  double rendezvous_s = lr::driver::dist::GroupOptions{}.rendezvous_timeout_s;
};

ProbeArgs parse(int argc, char** argv) {
  ProbeArgs a;
  for (int i = 3; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--ignore-sigterm") {
      a.ignore_sigterm = true;
      continue;
    }
    if (i + 1 == argc) throw std::runtime_error(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--kill-rank") {
      a.kill_rank = std::stoi(value);
    } else if (flag == "--pid-dir") {
      a.pid_dir = value;
    } else if (flag == "--rendezvous") {
      a.rendezvous_s = std::stod(value);
    } else if (flag == "--sleep") {
      a.sleep_s = std::stod(value);
    } else if (flag == "--exit") {
      const size_t c1 = value.find(':'), c2 = value.find(':', c1 + 1);
      a.exits[std::stoi(value.substr(0, c1))] = {std::stoi(value.substr(c1 + 1, c2 - c1 - 1)),
                                                 std::stod(value.substr(c2 + 1))};
    } else {
      throw std::runtime_error("unknown flag " + flag);
    }
  }
  return a;
}

// DIR/rank<R>.<what>, holding the pid.
void write_pid(const std::string& dir, int rank, const std::string& what) {
  const std::string path = dir + "/rank" + std::to_string(rank) + "." + what;
  std::ofstream(path + ".tmp") << ::getpid() << "\n";
  std::rename((path + ".tmp").c_str(), path.c_str());
}

// Sleeps up to `seconds`; exits 130 as soon as SIGINT has come.
void sleep_interruptibly(double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (g_interrupted) {  // every rank gets SIGINT: they leave together, so none sees another vanish
      lr::driver::say_to_stderr("dist_probe: " + lr::driver::dist::rank_prefix() + "interrupted\n");
      lr::driver::dist::leave();
      std::_Exit(130);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

int main(int argc, char** argv) {
  namespace dist = lr::driver::dist;
  if (argc < 3) {
    std::cerr << "usage: dist_probe BACKEND PEER_TIMEOUT_S [--kill-rank R] [--pid-dir DIR] [--sleep S] "
                 "[--exit R:CODE:DELAY_S ...] [--ignore-sigterm] [--rendezvous S]\n";
    return 2;
  }
  try {
    const ProbeArgs args = parse(argc, argv);
    std::signal(SIGINT, on_sigint);
    if (args.ignore_sigterm) std::signal(SIGTERM, SIG_IGN);
    const auto env = lr::driver::launch_env_from();
    if (!env) throw std::runtime_error("no launch environment");
    if (!args.pid_dir.empty()) write_pid(args.pid_dir, env->rank, "pid");
    dist::GroupOptions o;
    o.backend = argv[1];
    o.peer_timeout_s = std::atof(argv[2]);
    o.rendezvous_timeout_s = args.rendezvous_s;
    dist::join(*env, o);
    const int kill_rank = args.kill_rank;
    dist::barrier("start");
    if (!args.pid_dir.empty()) write_pid(args.pid_dir, dist::rank(), "ready");
    if (auto it = args.exits.find(dist::rank()); it != args.exits.end()) {
      sleep_interruptibly(it->second.delay_s);
      lr::driver::say_to_stderr("dist_probe: " + dist::rank_prefix() + "exiting with " + std::to_string(it->second.code) + "\n");
      std::_Exit(it->second.code);
    }
    sleep_interruptibly(args.sleep_s);
    if (kill_rank >= 0) {
      if (dist::rank() == kill_rank) ::kill(::getpid(), SIGKILL);
      dist::barrier("after the kill");
      std::cerr << "dist_probe: barrier passed without rank " << kill_rank << "\n";
      return 3;
    }
    const double r = dist::rank();
    std::vector<torch::Tensor> ts{torch::full({3}, r + 1, torch::kFloat32),
                                  torch::full({2, 2}, r * 10, torch::kFloat64),
                                  torch::arange(5, torch::kFloat32) * (r + 1)};
    dist::all_reduce_sum(ts);
    nlohmann::json out;
    out["rank"] = dist::rank();
    out["world"] = dist::world_size();
    out["backend"] = dist::backend();
    out["local_rank"] = dist::local_rank();
    out["master"] = std::string(std::getenv("MASTER_ADDR")) + ":" + std::getenv("MASTER_PORT");
    out["sum_a"] = ts[0][0].item<double>();
    out["sum_b"] = ts[1][1][1].item<double>();
    out["sum_c"] = ts[2][4].item<double>();
    out["gathered"] = dist::all_gather_text("names", "r" + std::to_string(dist::rank()));
    dist::barrier("end");
    dist::leave();
    std::cout << out.dump() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    dist::report_failure(e.what());
    lr::driver::say_to_stderr("dist_probe: " + dist::rank_prefix() + e.what() + "\n");
    return 1;
  }
}
