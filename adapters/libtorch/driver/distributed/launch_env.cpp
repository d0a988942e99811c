#include "distributed/launch_env.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace lr::driver {

namespace {

int parse_int(const char* name, const std::string& text, int lo, int hi) {
  size_t used = 0;
  long v = 0;
  try {
    v = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || v < lo || v > hi)
    throw std::runtime_error(std::string("environment variable ") + name + "=\"" + text + "\": expected an integer in " +
                             std::to_string(lo) + ".." + std::to_string(hi));
  return static_cast<int>(v);
}

}  // namespace

std::optional<LaunchEnv> launch_env_from(const std::function<const char*(const char*)>& getenv_fn) {
  const auto get = [&](const char* name) -> const char* { return getenv_fn ? getenv_fn(name) : std::getenv(name); };
  std::string missing;
  bool any = false;
  for (const char* name : kLaunchEnvNames) {
    if (get(name))
      any = true;
    else
      missing += std::string(" ") + name;
  }
  if (!any) return std::nullopt;
  if (!missing.empty())
    throw std::runtime_error("a distributed launch sets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR "
                             "and MASTER_PORT; missing:" + missing);
  constexpr int kMaxRanks = 1 << 20;
  LaunchEnv e;
  e.world_size = parse_int("WORLD_SIZE", get("WORLD_SIZE"), 1, kMaxRanks);
  e.rank = parse_int("RANK", get("RANK"), 0, e.world_size - 1);
  e.local_world_size = parse_int("LOCAL_WORLD_SIZE", get("LOCAL_WORLD_SIZE"), 1, e.world_size);
  e.local_rank = parse_int("LOCAL_RANK", get("LOCAL_RANK"), 0, e.local_world_size - 1);
  e.master_addr = get("MASTER_ADDR");
  if (e.master_addr.empty()) throw std::runtime_error("environment variable MASTER_ADDR is empty");
  e.master_port = parse_int("MASTER_PORT", get("MASTER_PORT"), 1, 65535);
  const char* agent = get("TORCHELASTIC_USE_AGENT_STORE");
  e.agent_store = agent && std::string(agent) == "True";
  if (e.agent_store) {
    const char* attempt = get("TORCHELASTIC_RESTART_COUNT");
    e.store_prefix = "/worker/attempt_" +
                     std::to_string(attempt ? parse_int("TORCHELASTIC_RESTART_COUNT", attempt, 0, 1 << 20) : 0);
  }
  return e;
}

}  // namespace lr::driver
