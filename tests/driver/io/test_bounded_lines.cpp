// The JSON-lines length bound (io/bounded_lines.h): the reader itself, and
// every JSONL reader of the driver given a line past kMaxJsonLineBytes: a
// one-line error naming the file and line (or, for the lenient readers, the
// line skipped like any other non-object line), never the whole line held.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "evaluate/datasets.h"
#include "evaluate/results_file.h"
#include "io/bounded_lines.h"
#include "io/json_files.h"
#include "io/stdin_json_lines.h"
#include "sample/problems.h"
#include "sample/supervision_store.h"

namespace lr::driver {
namespace {

namespace fs = std::filesystem;

const std::string kOverlong(kMaxJsonLineBytes + 100, 'x');

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::path(LR_IO_TEST_SCRATCH);
  fs::create_directories(dir);
  return dir / name;
}

// A file: a good object line, the overlong line (a JSON string, so only its
// length is wrong), another good line.
std::string write_with_overlong_line(const std::string& name, const std::string& good) {
  const fs::path p = scratch(name);
  std::ofstream(p, std::ios::binary) << good << "\n\"" << kOverlong << "\"\n" << good << "\n";
  return p.string();
}

template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(BoundedLines, ReadsLinesAndStopsHoldingAtTheBound) {
  std::istringstream in("a\n\n" + kOverlong + "\nlast");
  std::string line;
  bool too_long = true;
  ASSERT_TRUE(read_bounded_line(in, line, too_long));
  EXPECT_EQ(line, "a");
  EXPECT_FALSE(too_long);
  ASSERT_TRUE(read_bounded_line(in, line, too_long));
  EXPECT_EQ(line, "");
  ASSERT_TRUE(read_bounded_line(in, line, too_long));
  EXPECT_TRUE(too_long);
  EXPECT_EQ(line.size(), kMaxJsonLineBytes);
  ASSERT_TRUE(read_bounded_line(in, line, too_long));  // the rest was skipped, not lost
  EXPECT_EQ(line, "last");
  EXPECT_FALSE(too_long);
  EXPECT_FALSE(read_bounded_line(in, line, too_long));
}

TEST(BoundedLines, NamesTheFirstOverlongLineOfAFile) {
  const std::string path = write_with_overlong_line("plain.jsonl", "{}");
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto found = first_overlong_line(text, path);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, path + ":2: a line longer than 64 MiB");
  // Exactly the bound is allowed, one byte more is not, with or without a final newline.
  const std::string at_bound(kMaxJsonLineBytes, 'x');
  EXPECT_FALSE(first_overlong_line("{}\n" + at_bound + "\n{}", "f").has_value());
  EXPECT_FALSE(first_overlong_line(at_bound, "f").has_value());
  EXPECT_EQ(first_overlong_line("{}\n\n" + at_bound + "x", "f").value_or(""), "f:3: a line longer than 64 MiB");
  EXPECT_FALSE(first_overlong_line("{}\n{}\n", "f").has_value());
  EXPECT_FALSE(first_overlong_line("", "f").has_value());
}

TEST(BoundedLines, LenientReaderSkipsTheLine) {
  const std::string path = write_with_overlong_line("objects.jsonl", R"({"a":1})");
  EXPECT_EQ(read_json_objects(path).size(), 2u);
}

TEST(BoundedLines, StdinReaderRefusesTheLine) {
  std::istringstream in("\"ok\"\n\"" + kOverlong + "\"\n");
  EXPECT_EQ(error_of([&] { read_json_string_lines(in); }), "stdin line 2: a line longer than 64 MiB");
}

TEST(BoundedLines, ProblemsReaderRefusesTheLine) {
  const std::string path = write_with_overlong_line("problems.jsonl", R"({"question":"q","answer":"#### 1"})");
  EXPECT_EQ(error_of([&] { read_problems(path); }), path + ":2: a line longer than 64 MiB");
}

TEST(BoundedLines, EvalDatasetReaderRefusesTheLine) {
  EvalDataset d;
  d.name = "gsm8k";
  d.file = write_with_overlong_line("eval.jsonl", R"({"question":"q","answer":"#### 1"})");
  EXPECT_EQ(error_of([&] { load_eval_dataset(d); }), d.file + ":2: a line longer than 64 MiB");
}

TEST(BoundedLines, ResultsReaderRefusesTheLine) {
  const std::string path = write_with_overlong_line("results.jsonl", R"({"id":0})");
  EXPECT_EQ(error_of([&] { read_result_lines(path); }), path + ":2: a line longer than 64 MiB");
}

TEST(BoundedLines, SupervisionStoreRefusesTheLine) {
  const std::string path = write_with_overlong_line("supervision.jsonl", R"({"lightreasoner_supervision":1})");
  EXPECT_EQ(error_of([&] { SupervisionStore::open(path, nlohmann::json::object()); }),
            path + ":2: a line longer than 64 MiB");
}

}  // namespace
}  // namespace lr::driver
