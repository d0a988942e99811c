// config.json and generation_config.json of a Hugging Face checkpoint: the
// input up to its first NUL byte is config.json, the rest (if any)
// generation_config.json. A config that reads is written back (to_json) and
// must read again to the same values.
#include <string>

#include "checkpoint/model_config.h"
#include "checkpoint/safetensors.h"  // CheckpointError
#include "byte_reader.h"
#include "fuzz_targets.h"
#include "scratch_files.h"

namespace lr::fuzz {

int model_config(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  const std::string config = in.text_until('\0');
  const bool has_generation = in.remaining() > 0;
  const std::string generation = in.rest();
  const std::string path = write_scratch("config.json", config);
  if (has_generation) write_scratch("generation_config.json", generation);
  else remove_scratch("generation_config.json");
  try {
    const auto c = driver::Qwen2Config::from_json_file(path);
    const auto again = driver::Qwen2Config::from_json_file(write_scratch("config.json", c.to_json()));
    if (again.to_json() != c.to_json()) throw std::logic_error("config.json: to_json does not read back the same");
  } catch (const driver::CheckpointError&) {
  }
  try {
    (void)driver::GenerationConfig::from_dir(scratch_dir());
  } catch (const driver::CheckpointError&) {
  }
  return 0;
}

}  // namespace lr::fuzz
