// A sharded checkpoint's model.safetensors.index.json, beside two small valid
// shards (model-00001-of-00002.safetensors: "a", "b"; -00002: "c"): the
// weight_map, shard names (paths that escape the folder), tensors mapped to
// the wrong shard or to none.
#include <filesystem>
#include <string>
#include <vector>

#include "checkpoint/safetensors.h"
#include "fuzz_targets.h"
#include "scratch_files.h"

namespace lr::fuzz {
namespace {

// The folder with the two shards, made once per process.
const std::string& shard_folder() {
  static const std::string dir = [] {
    const std::string d = scratch_dir() + "/sharded";
    std::filesystem::create_directories(d);
    const float values[4] = {1, 2, 3, 4};
    using driver::StDtype;
    driver::write_safetensors(d + "/model-00001-of-00002.safetensors",
                              {{"a", StDtype::F32, {2}, values, 8}, {"b", StDtype::F32, {1, 1}, values + 2, 4}});
    driver::write_safetensors(d + "/model-00002-of-00002.safetensors", {{"c", StDtype::F32, {1}, values + 3, 4}});
    return d;
  }();
  return dir;
}

}  // namespace

int safetensors_index(const uint8_t* data, size_t size) {
  const std::string& dir = shard_folder();
  write_scratch("sharded/model.safetensors.index.json", std::string(reinterpret_cast<const char*>(data), size));
  try {
    const auto ck = driver::Checkpoint::open_dir(dir);
    for (const std::string& name : ck.names())
      if (ck.at(name).name != name) throw std::logic_error("index: tensor '" + name + "' found under another name");
  } catch (const driver::CheckpointError&) {
  }
  return 0;
}

}  // namespace lr::fuzz
