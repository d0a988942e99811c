// The per-problem results of one model on one dataset, as JSON lines, made
// to survive a kill: lines are appended a batch at a time and flushed, and
// reopening the file keeps every complete line and cuts off a partial last
// one, so a resumed evaluation neither redoes nor duplicates a problem.
//
// A line (evaluator.h writes them):
//   {"id": 3, "question": "...", "gold": "18", "output": "...", "pred": "18",
//    "correct": true, "tokens": 57, "stopped": true}
// plus "prompt_ids" and "output_ids" when the ids are recorded (SFT). A line
// depends only on the model, the settings and the problem's batch, so two
// runs write the same bytes (a sharded run's merged file equals a
// one-process run's); the generation times live beside the file
// (batch_timing.h). Files of earlier versions carry a per-line "seconds",
// still read by score_results.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/append_file.h"

namespace lr::driver {

// One result line; keys keep their insertion order in the file.
using ResultLine = nlohmann::ordered_json;

class ResultsFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A results file read without changing it: every complete line (a torn last
// line, or an unparsable one at the end, left out), by problem id, as parsed
// and as written (for merging the parts of a sharded run byte for byte).
// Throws ResultsFileError as ResultsFile does; an absent file reads empty.
struct ResultLines {
  std::map<int64_t, ResultLine> records;
  std::map<int64_t, std::string> raw;  // the line as written, without its newline
  size_t good_end = 0;                 // bytes up to the end of the last complete line
  size_t size = 0;                     // the file's size
};
ResultLines read_result_lines(const std::string& path);

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
  // the file) in one checked, fsync'ed write (io/append_file.h).
  void append(const std::vector<ResultLine>& lines);

 private:
  std::string path_;
  std::map<int64_t, ResultLine> records_;
  int64_t truncated_bytes_ = 0;
  AppendFile out_;
};

}  // namespace lr::driver
