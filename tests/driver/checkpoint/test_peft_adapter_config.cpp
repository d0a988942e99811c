// A PEFT adapter_config.json from a stranger (checkpoint/peft_adapter_config.h):
// each field the loader cannot use is a one-line error naming the file and the
// field; the edges of each range are accepted; what the writer writes reads back.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "peft_adapter_config.h"
#include "test_util.h"

namespace lr::driver {
namespace {

using test::TempDir;

// PEFT's minimal LoRA config with `edit` applied.
std::string config_with(const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = {{"peft_type", "LORA"}, {"r", 8}, {"lora_alpha", 16}, {"lora_dropout", 0.05},
                      {"target_modules", {"q_proj", "v_proj"}}, {"bias", "none"}};
  edit(j);
  return j.dump();
}

TEST(PeftAdapterConfig, FieldsTheLoaderCannotUseAreOneLineErrors) {
  TempDir dir;
  const std::string path = dir.file(kPeftConfigFile);
  const std::vector<std::pair<std::string, std::function<void(nlohmann::json&)>>> cases = {
      {"r must be an integer in [1, 65536], got 0", [](auto& j) { j["r"] = 0; }},
      {"r must be an integer in [1, 65536], got 65537", [](auto& j) { j["r"] = 65537; }},
      {"r must be an integer in [1, 65536], got 2.5", [](auto& j) { j["r"] = 2.5; }},
      {"r must be an integer in [1, 65536], got 1e+300", [](auto& j) { j["r"] = 1e300; }},
      {"r must be an integer in [1, 65536], got \"8\"", [](auto& j) { j["r"] = "8"; }},
      {"r must be an integer in [1, 65536], got nothing", [](auto& j) { j.erase("r"); }},
      {"lora_alpha must be a number in (0, inf), got 0", [](auto& j) { j["lora_alpha"] = 0; }},
      {"lora_alpha must be a number in (0, inf), got -1", [](auto& j) { j["lora_alpha"] = -1; }},
      {"lora_alpha must be a number in (0, inf), got \"16\"", [](auto& j) { j["lora_alpha"] = "16"; }},
      {"no lora_alpha", [](auto& j) { j.erase("lora_alpha"); }},
      {"lora_dropout must be a number in [0, 1), got 1", [](auto& j) { j["lora_dropout"] = 1; }},
      {"lora_dropout must be a number in [0, 1), got -0.1", [](auto& j) { j["lora_dropout"] = -0.1; }},
      {"target_modules must be a non-empty list", [](auto& j) { j["target_modules"] = nlohmann::json::array(); }},
      {"(a regex is not supported)", [](auto& j) { j["target_modules"] = ".*proj"; }},
      {"target_modules: \"q_proj\" is listed twice", [](auto& j) { j["target_modules"] = {"q_proj", "q_proj"}; }},
      {"target_modules: \"lm_head\" is not a module", [](auto& j) { j["target_modules"] = {"lm_head"}; }},
      {"target_modules: 3 is not a module", [](auto& j) { j["target_modules"] = {3}; }},
      {"only bias \"none\" is supported", [](auto& j) { j["bias"] = "all"; }},
      {"use_dora true is not supported", [](auto& j) { j["use_dora"] = true; }},
      {"fan_in_fan_out \"yes\" is not supported", [](auto& j) { j["fan_in_fan_out"] = "yes"; }},
      {"peft_type is not \"LORA\"", [](auto& j) { j["peft_type"] = "IA3"; }},
      {"not a JSON object", [](auto& j) { j = nlohmann::json::array({1}); }},
  };
  for (const auto& [message, edit] : cases) {
    test::write_bytes(path, config_with(edit));
    test::expect_checkpoint_error([&] { (void)read_adapter_config(path); }, {path + ": ", message});
  }
}

TEST(PeftAdapterConfig, RangeEdgesAreAccepted) {
  TempDir dir;
  const std::string path = dir.file(kPeftConfigFile);
  test::write_bytes(path, config_with([](auto& j) {
    j["r"] = 65536;
    j["lora_alpha"] = 1e-3;
    j["lora_dropout"] = 0;
    j["target_modules"] = lora_supported_modules();
    j["use_dora"] = nullptr;  // PEFT writes null for options left unset
  }));
  const LoraConfig c = read_adapter_config(path);
  EXPECT_EQ(c.r, 65536);
  EXPECT_EQ(c.alpha, 1e-3);
  EXPECT_EQ(c.dropout, 0.0);
  EXPECT_EQ(c.target_modules, lora_supported_modules());
  test::write_bytes(path, config_with([](auto& j) { j.erase("lora_dropout"); j.erase("bias"); }));
  EXPECT_EQ(read_adapter_config(path).dropout, 0.0);  // PEFT's default when absent
}

TEST(PeftAdapterConfig, WhatTheWriterWritesReadsBack) {
  TempDir dir;
  const std::string path = dir.file(kPeftConfigFile);
  LoraConfig c;
  c.r = 16;
  c.alpha = 24.5;
  c.dropout = 0.1;
  c.target_modules = {"o_proj", "gate_proj"};
  test::write_bytes(path, peft_adapter_config_json(c, "base"));
  const LoraConfig again = read_adapter_config(path);
  EXPECT_EQ(again.r, c.r);
  EXPECT_EQ(again.alpha, c.alpha);
  EXPECT_EQ(again.dropout, c.dropout);
  EXPECT_EQ(again.target_modules, c.target_modules);
}

}  // namespace
}  // namespace lr::driver
