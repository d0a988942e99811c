#include "stages/train_metrics.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/bounded_lines.h"

namespace lr::driver {

double keep_metrics_through(const std::string& path, int64_t done) {
  if (!std::filesystem::exists(path)) return 0;
  std::ifstream in(path);
  std::string line, kept;
  double seconds = 0;
  bool too_long = false;
  while (read_bounded_line(in, line, too_long)) {
    if (too_long) continue;  // not a metrics line of ours, as any other non-JSON line
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("update")) continue;
    const int64_t update = j.value("update", int64_t{0});
    if (update < 1 || update > done) continue;
    seconds += j.value("seconds", 0.0);
    kept += line + "\n";
  }
  in.close();
  write_file_atomically(path, kept);
  return seconds;
}

}  // namespace lr::driver
