// Progress of long work on stderr: done/total, rate and ETA. On a terminal
// (also one behind a RunLog) the line is redrawn in place; otherwise a line
// is printed every few seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lr::driver {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit);
  void update(int64_t done);  // cheap to call often
  // The same, with a short note shown at the line's end (e.g. "loss 1.23"), kept for later lines.
  void update(int64_t done, std::string note);
  void finish();              // the final line, with the total time

 private:
  void print(int64_t done, bool final_line);
  std::string label_, unit_, note_;
  int64_t total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

}  // namespace lr::driver
