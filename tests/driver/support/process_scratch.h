// A scratch folder of this test process's own under `root` (ctest runs the
// discovered tests of one binary as parallel processes), removed when the
// process's tests end.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace lrtest {

inline const std::string& process_scratch(const char* root) {
  static const std::string dir = [root] {
    const std::string d = std::string(root) + "/" + std::to_string(::getpid());
    struct Cleanup : ::testing::Environment {
      explicit Cleanup(std::string p) : path(std::move(p)) {}
      void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
      }
      std::string path;
    };
    ::testing::AddGlobalTestEnvironment(new Cleanup(d));
    return d;
  }();
  return dir;
}

}  // namespace lrtest
