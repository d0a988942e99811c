// The TOML experiment config with --set overrides: the input up to its first
// NUL byte is the file, each later line one `--set key=value`. A config that
// loads is written out (to_toml) and must load again to an equal config.
#include <string>
#include <vector>

#include "byte_reader.h"
#include "config/experiment_config.h"
#include "fuzz_targets.h"
#include "scratch_files.h"

namespace lr::fuzz {

int experiment_config(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  const std::string path = write_scratch("config.toml", in.text_until('\0'));
  std::vector<std::string> overrides;
  while (in.remaining() > 0) overrides.push_back(in.text_until('\n'));
  try {
    const driver::ExperimentConfig c = driver::load_config(path, overrides);
    const driver::ExperimentConfig again = driver::load_config(write_scratch("written.toml", driver::to_toml(c)));
    if (again != c) throw std::logic_error("config: to_toml does not load back to an equal config");
  } catch (const driver::ConfigError&) {
  }
  return 0;
}

}  // namespace lr::fuzz
