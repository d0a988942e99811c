// The data bundled with the source tree (bench/data): its folder, the GSM8K
// train file, and the evaluation sets known by name with their files and fields.
#pragma once

#include <string>

#include "experiment_config.h"

namespace lr::driver::config_internal {

struct BundledSet {
  const char* name;
  const char* rel_file;  // under the bundled data folder
  const char* question;
  const char* answer;
  const char* context;
  const char* choices;
};

// The train problems' file under the bundled data folder.
inline constexpr const char* kBundledTrainFile = "gsm8k/train.jsonl";

const BundledSet* find_bundled(const std::string& name);  // nullptr when not bundled
EvalDataset bundled_dataset(const BundledSet& set);       // name and fields; file left ""
std::string bundled_names();                              // "gsm8k, svamp, ..." for messages

// data.bundled_dir "": $LR_DATA_DIR when set, else the source tree's bench/data.
std::string default_bundled_dir();

}  // namespace lr::driver::config_internal
