// A rank of a test job: joins the group its environment describes and
// exercises the collectives, printing one JSON line that test_process_group.py
// checks against the values each rank contributed.
//   dist_probe BACKEND PEER_TIMEOUT_S [--kill-rank R]
// With --kill-rank, rank R SIGKILLs itself after the first barrier and the
// others wait in a second barrier: the watchdog must stop them, naming rank R.
#include <signal.h>
#include <unistd.h>

#include <torch/torch.h>

#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "distributed/launch_env.h"
#include "distributed/process_group.h"

int main(int argc, char** argv) {
  namespace dist = lr::driver::dist;
  if (argc < 3) {
    std::cerr << "usage: dist_probe BACKEND PEER_TIMEOUT_S [--kill-rank R]\n";
    return 2;
  }
  try {
    const auto env = lr::driver::launch_env_from();
    if (!env) throw std::runtime_error("no launch environment");
    dist::GroupOptions o;
    o.backend = argv[1];
    o.peer_timeout_s = std::atof(argv[2]);
    dist::join(*env, o);
    const int kill_rank = argc >= 5 && std::string(argv[3]) == "--kill-rank" ? std::atoi(argv[4]) : -1;
    dist::barrier("start");
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
    std::cerr << "dist_probe: " << dist::rank_prefix() << e.what() << "\n";
    return 1;
  }
}
