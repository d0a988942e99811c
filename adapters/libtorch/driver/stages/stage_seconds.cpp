// RUN/stage_seconds.json (stage.h): the wall time of each stage, summed over its calls.
// On the ranks of a group rank 0's time is the stage's (the ranks end a
// stage together), and rank 0 alone writes the file.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "distributed/process_group.h"
#include "io/json_files.h"
#include "io/run_layout.h"
#include "stages/stage.h"

namespace lr::driver {

void add_stage_seconds(const ExperimentConfig& c, const std::string& stage, double seconds) {
  if (dist::rank() != 0) return;
  const std::string path = RunLayout(c.run.out_dir).stage_seconds().string();
  nlohmann::ordered_json j = read_json_file<nlohmann::ordered_json>(path).value_or(nlohmann::ordered_json::object());
  if (!j.is_object()) j = nlohmann::ordered_json::object();
  j[stage] = j.value(stage, 0.0) + seconds;
  write_json_atomically(path, j);
}

}  // namespace lr::driver
