// launch_env_from: torchrun's six variables, all or none, each checked.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "distributed/launch_env.h"

namespace {

using lr::driver::launch_env_from;
using Vars = std::map<std::string, std::string>;

std::function<const char*(const char*)> from(const Vars& vars) {
  return [&vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

Vars full() {
  return {{"RANK", "2"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "0"}, {"LOCAL_WORLD_SIZE", "2"},
          {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29500"}};
}

std::string error_of(const Vars& vars) {
  try {
    launch_env_from(from(vars));
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(LaunchEnv, NoneSetIsASingleProcess) { EXPECT_FALSE(launch_env_from(from({})).has_value()); }

TEST(LaunchEnv, AllSetAreRead) {
  const Vars v = full();
  const auto e = launch_env_from(from(v));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->rank, 2);
  EXPECT_EQ(e->world_size, 4);
  EXPECT_EQ(e->local_rank, 0);
  EXPECT_EQ(e->local_world_size, 2);
  EXPECT_EQ(e->master_addr, "node7");
  EXPECT_EQ(e->master_port, 29500);
}

TEST(LaunchEnv, SomeMissingAreNamed) {
  Vars v = full();
  v.erase("MASTER_PORT");
  v.erase("LOCAL_RANK");
  const std::string m = error_of(v);
  EXPECT_NE(m.find("LOCAL_RANK"), std::string::npos) << m;
  EXPECT_NE(m.find("MASTER_PORT"), std::string::npos) << m;
}

TEST(LaunchEnv, MalformedValuesAreNamed) {
  const std::vector<std::pair<std::string, std::string>> bad = {{"RANK", "4"},          {"RANK", "-1"},       {"WORLD_SIZE", "0"},
                                                  {"WORLD_SIZE", "2x"},    {"LOCAL_RANK", "2"},  {"MASTER_PORT", "70000"},
                                                  {"LOCAL_WORLD_SIZE", "5"}, {"MASTER_ADDR", ""}};
  for (const auto& [name, value] : bad) {
    Vars v = full();
    v[name] = value;
    const std::string m = error_of(v);
    EXPECT_NE(m.find(name), std::string::npos) << name << "=" << value << ": " << m;
  }
}

// Under torchrun's agent store every rank is a client, under the attempt's prefix.
TEST(LaunchEnv, TorchrunsAgentStoreIsRead) {
  EXPECT_FALSE(launch_env_from(from(full()))->agent_store);
  Vars v = full();
  v["TORCHELASTIC_USE_AGENT_STORE"] = "False";
  EXPECT_FALSE(launch_env_from(from(v))->agent_store);
  v["TORCHELASTIC_USE_AGENT_STORE"] = "True";
  v["TORCHELASTIC_RESTART_COUNT"] = "3";
  const auto e = launch_env_from(from(v));
  EXPECT_TRUE(e->agent_store);
  EXPECT_EQ(e->store_prefix, "/worker/attempt_3");
  v["TORCHELASTIC_RESTART_COUNT"] = "x";
  EXPECT_NE(error_of(v).find("TORCHELASTIC_RESTART_COUNT"), std::string::npos);
}

}  // namespace
