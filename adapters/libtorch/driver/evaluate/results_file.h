// The per-problem results of one model on one dataset, as JSON lines, made
// to survive a kill: lines are appended a batch at a time and flushed, and
// reopening the file keeps every complete line and cuts off a partial last
// one, so a resumed evaluation neither redoes nor duplicates a problem.
//
// A line (evaluator.h writes them):
//   {"id": 3, "question": "...", "gold": "18", "output": "...", "pred": "18",
//    "correct": true, "tokens": 57, "stopped": true, "seconds": 0.41}
// plus "prompt_ids" and "output_ids" when the ids are recorded (SFT).
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace lr::driver {

// One result line; keys keep their insertion order in the file.
using ResultLine = nlohmann::ordered_json;

class ResultsFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ResultsFile {
 public:
  // Reads `path` when it exists (creating its folder otherwise). A last line
  // without its newline, or one that is not valid JSON, is a write the kill
  // cut short: the file is truncated to the line before it. Any other bad
  // line (not an object, no integer "id", an id seen before) throws
  // ResultsFileError naming the file and the line.
  explicit ResultsFile(std::string path);

  const std::string& path() const { return path_; }
  bool has(int64_t id) const { return records_.count(id) != 0; }
  // The records by problem id.
  const std::map<int64_t, ResultLine>& records() const { return records_; }
  // Bytes cut off a partial last line when the file was opened.
  int64_t truncated_bytes() const { return truncated_bytes_; }

  // Appends one line per record (each must have an integer "id" not yet in
  // the file) and flushes.
  void append(const std::vector<ResultLine>& lines);

 private:
  std::string path_;
  std::map<int64_t, ResultLine> records_;
  int64_t truncated_bytes_ = 0;
  std::ofstream out_;
};

}  // namespace lr::driver
