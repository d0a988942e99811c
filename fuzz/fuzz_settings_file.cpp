// A stage's resume state beside its results: settings.json (io/settings_file.h),
// compared with the settings a run has now, and the lenient JSON files
// (io/json_files.h: eval and sft summaries, train inputs.json and
// complete.json, stage_seconds.json, diagnostics.json). The input up to its
// first NUL byte is settings.json, the rest the settings now (read as any of
// the lenient files). settings_difference must say nothing exactly when the
// two are equal.
#include <string>

#include "byte_reader.h"
#include "fuzz_targets.h"
#include "io/json_files.h"
#include "io/settings_file.h"
#include "scratch_files.h"

namespace lr::fuzz {

int settings_file(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  write_scratch("settings.json", in.text_until('\0'));
  const auto now = driver::read_json_file(write_scratch("now.json", in.rest()));
  std::optional<nlohmann::json> then;
  try {
    then = driver::read_settings(scratch_dir());
  } catch (const std::runtime_error&) {
    return 0;
  }
  if (!then || !then->is_object()) throw std::logic_error("settings.json: read_settings accepted a non-object");
  if (driver::settings_difference(*then, *then)) throw std::logic_error("settings.json: differs from itself");
  if (now && driver::settings_difference(*then, *now).has_value() == (*then == *now))
    throw std::logic_error("settings.json: settings_difference disagrees with ==");
  return 0;
}

}  // namespace lr::fuzz
