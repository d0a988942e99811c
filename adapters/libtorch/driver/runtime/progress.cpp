#include "runtime/progress.h"

#include "runtime/run_log.h"

#include <cstdio>

namespace lr::driver {

namespace {
std::string format_seconds(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}
}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(stderr_is_terminal()),
      start_(std::chrono::steady_clock::now()), last_print_(start_) {}

void Progress::update(int64_t done) {
  if (done >= total_) return;  // the last line is finish()'s
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (since < (tty_ ? 0.2 : 5.0)) return;
  last_print_ = now;
  print(done, false);
}

void Progress::update(int64_t done, std::string note) {
  note_ = std::move(note);
  update(done);
}

void Progress::finish() { print(total_, true); }

void Progress::print(int64_t done, bool final_line) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? double(done) / elapsed : 0.0;
  std::string eta = rate > 0 && done < total_ ? format_seconds(double(total_ - done) / rate) : "-";
  std::fprintf(stderr, "%s%s: %lld/%lld %s, %.2f %s/s, %s %s%s%s%s", tty_ ? "\r" : "", label_.c_str(),
               static_cast<long long>(done), static_cast<long long>(total_), unit_.c_str(), rate, unit_.c_str(),
               final_line ? "took" : "ETA", final_line ? format_seconds(elapsed).c_str() : eta.c_str(),
               note_.empty() ? "" : ", ", note_.c_str(), tty_ && !final_line ? "   " : "\n");
  std::fflush(stderr);
}

}  // namespace lr::driver
