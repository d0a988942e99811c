// RUN/stage_seconds.json (stage.h): the wall time of each stage, summed over its calls.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/json_files.h"
#include "io/run_layout.h"
#include "stages/stage.h"

namespace lr::driver {

void add_stage_seconds(const ExperimentConfig& c, const std::string& stage, double seconds) {
  const std::string path = RunLayout(c.run.out_dir).stage_seconds().string();
  nlohmann::ordered_json j = read_json_file<nlohmann::ordered_json>(path).value_or(nlohmann::ordered_json::object());
  if (!j.is_object()) j = nlohmann::ordered_json::object();
  j[stage] = j.value(stage, 0.0) + seconds;
  write_json_atomically(path, j);
}

}  // namespace lr::driver
