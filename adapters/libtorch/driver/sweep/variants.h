// The variants a sweep compares (config key sweep.variants): built-in names
// for the paper's ablations (its Tables 5 and 6), each a list of --set
// overrides on the sweep's config and the model whose evaluation gives its
// row, or a custom "NAME: key=value; key=value" (a LightReasoner run with
// those overrides). "base", the expert untouched, is always the first row.
#pragma once

#include <string>
#include <vector>

#include "config/experiment_config.h"

namespace lr::driver {

struct Variant {
  std::string name;         // also its folder under RUN/sweep/
  std::string description;  // the table's short description
  std::vector<std::string> overrides;  // "key=value", applied after the sweep's own --set
  std::string row_model;    // the eval whose summary gives the row: "base", "tuned" or "sft"
};

// The built-in names, "base" first, in the order the README documents them.
const std::vector<std::string>& builtin_variant_names();

// One entry of sweep.variants. Throws std::runtime_error with one line for an
// unknown name (listing the built-ins), a malformed custom entry, or
// "same_size_amateur" without models.pretrain.
Variant parse_variant(const std::string& entry, const ExperimentConfig& sweep_config);

// The table's rows: "base", then each entry of sweep.variants ("base" there
// is the same row; a name twice is an error).
std::vector<Variant> sweep_variants(const ExperimentConfig& sweep_config);

}  // namespace lr::driver
