// The environment torchrun (and `lightreasoner launch`, and a Slurm wrapper)
// gives each rank: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT. All present: the process is one rank of a group;
// none present: a single process, as before. Anything in between, or a value
// that is not a number in range, is an error naming the variable.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace lr::driver {

struct LaunchEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr;
  int master_port = 0;
  // torchrun's agent already serves the store at MASTER_ADDR:MASTER_PORT
  // (TORCHELASTIC_USE_AGENT_STORE=True: its static rendezvous, and the c10d
  // one in recent PyTorch): every rank connects as a client, under the prefix
  // torch.distributed uses there, "/worker/attempt_<TORCHELASTIC_RESTART_COUNT>".
  bool agent_store = false;
  std::string store_prefix;
};

// Reads the variables through `getenv` (the process's by default). Returns
// nothing when none of the six is set; throws std::runtime_error otherwise
// for a missing or malformed one (rank >= world size, port outside 1..65535, ...).
std::optional<LaunchEnv> launch_env_from(const std::function<const char*(const char*)>& getenv = {});

// The names, in the order above (for the launcher, which sets them).
inline constexpr const char* kLaunchEnvNames[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE",
                                                  "MASTER_ADDR", "MASTER_PORT"};

}  // namespace lr::driver
