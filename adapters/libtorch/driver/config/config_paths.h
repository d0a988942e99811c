// Path resolution after reading: input paths (models, tokenizer, data, eval
// files) against the config file's folder, run.out_dir (an output) against
// the working directory, "" filled in from the bundled data and, for
// models.make_tiny, from the run folder. Every path comes out absolute.
#pragma once

#include <filesystem>
#include <string>

#include "experiment_config.h"

namespace lr::driver::config_internal {

// p made absolute (against the working directory) and lexically normal.
std::string absolute_normal(const std::filesystem::path& p);

// Resolves every path of c as above; config_dir is the config file's folder.
// (eval dataset files a table named were resolved while reading.)
void resolve_paths(ExperimentConfig& c, const std::filesystem::path& config_dir);

}  // namespace lr::driver::config_internal
