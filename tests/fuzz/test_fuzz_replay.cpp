// Replays each fuzz target's seeds and committed findings through the same
// function libFuzzer calls (fuzz/fuzz_targets.h). Each file must run to the
// end: its reader accepts it or refuses it with its own error.
#include <gtest/gtest.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "fuzz_targets.h"

namespace {

namespace fs = std::filesystem;

struct Target {
  const char* name;
  int (*run)(const uint8_t*, size_t);
};

// gtest prints a parameter by its name, not its bytes.
void PrintTo(const Target& t, std::ostream* os) { *os << t.name; }

const Target kTargets[] = {
#include "fuzz_target_table.inc"
};

std::vector<fs::path> inputs_of(const std::string& target) {
  std::vector<fs::path> files;
  for (const char* folder : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(LR_FUZZ_SOURCE_DIR) / folder / target;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class FuzzReplay : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzReplay, SeedsAndRegressionsRunClean) {
  const Target& t = GetParam();
  const auto files = inputs_of(t.name);
  ASSERT_FALSE(files.empty()) << "no seed in fuzz/corpus/" << t.name;
  for (const fs::path& f : files) {
    const std::string data = bytes_of(f);
    try {
      t.run(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    } catch (const std::exception& e) {
      ADD_FAILURE() << f << ": " << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, ::testing::ValuesIn(kTargets),
                         [](const ::testing::TestParamInfo<Target>& info) { return std::string(info.param.name); });

}  // namespace
