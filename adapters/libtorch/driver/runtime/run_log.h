// The log of a verb in the run folder: while a RunLog is alive, everything
// the process writes to stderr (stage lines, warnings, progress) still
// reaches the terminal and is also appended to RUN/logs/<verb>.log, one
// timestamped line each. Progress-bar redraws (text ended by '\r') are left
// out of the file; the bar's final line is kept. What one write put into the
// pipe reaches the terminal in one write, so ranks sharing it do not cut into
// each other's lines. A rank stopped because
// another was lost (distributed/process_group.h) drains the copy before it
// exits, so its last line is not lost.
#pragma once

#include <cstdio>
#include <string>
#include <thread>

namespace lr::driver {

// Whether what the process writes to stderr reaches a terminal: with a live
// RunLog, whether the stderr it copies to is one (stderr itself is then the
// log's pipe), so progress bars still redraw in place.
bool stderr_is_terminal();

class RunLog {
 public:
  // Throws std::runtime_error naming the file when it cannot be opened.
  RunLog(const std::string& out_dir, const std::string& verb);
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  const std::string& path() const { return path_; }

  // Appends one timestamped line to the file only, not the terminal: facts
  // the run's record needs that would clutter the verb's output.
  void note(const std::string& line);

 private:
  void copy_loop();
  void forward(std::string& pending, bool read_filled_buffer, bool at_end);
  void drain();  // stderr back to the terminal; every byte copied; the copier joined

  std::string path_;
  std::FILE* file_ = nullptr;
  int saved_stderr_ = -1;
  int pipe_read_ = -1;
  std::thread copier_;
};

}  // namespace lr::driver
