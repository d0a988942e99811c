// A PEFT adapter's adapter_config.json (checkpoint/peft_adapter_config.h).
// A config the reader accepts must be one the loader can use (r, alpha,
// dropout and modules in range; the bounds the header states), and written
// back by peft_adapter_config_json it must read again to the same config.
// (Its adapter_model.safetensors is the safetensors target's.)
#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "checkpoint/peft_adapter_config.h"
#include "checkpoint/safetensors.h"  // CheckpointError
#include "fuzz_targets.h"
#include "scratch_files.h"

namespace lr::fuzz {

namespace {

void check_usable(const driver::LoraConfig& c) {
  const auto& supported = driver::lora_supported_modules();
  const std::set<std::string> distinct(c.target_modules.begin(), c.target_modules.end());
  const bool modules_ok =
      !c.target_modules.empty() && distinct.size() == c.target_modules.size() &&
      std::all_of(distinct.begin(), distinct.end(),
                  [&](const std::string& m) { return std::find(supported.begin(), supported.end(), m) != supported.end(); });
  if (c.r < 1 || c.r > driver::defaults::lora::max_r || !(c.alpha > 0) || !std::isfinite(c.alpha) ||
      !(c.dropout >= 0 && c.dropout < 1) || !modules_ok)
    throw std::logic_error("adapter_config.json: accepted a config the loader cannot use");
}

}  // namespace

int peft_adapter_config(const uint8_t* data, size_t size) {
  const std::string path =
      write_scratch(driver::kPeftConfigFile, std::string(reinterpret_cast<const char*>(data), size));
  try {
    const auto c = driver::read_adapter_config(path);
    check_usable(c);
    const auto again = driver::read_adapter_config(
        write_scratch(driver::kPeftConfigFile, driver::peft_adapter_config_json(c, "base")));
    if (again.r != c.r || again.alpha != c.alpha || again.dropout != c.dropout ||
        again.target_modules != c.target_modules)
      throw std::logic_error("adapter_config.json: written back, it reads as another config");
  } catch (const driver::CheckpointError&) {
  }
  return 0;
}

}  // namespace lr::fuzz
