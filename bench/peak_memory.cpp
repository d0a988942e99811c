#include "peak_memory.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace lrbench {
namespace {

// The value in kB of a "Key:   123 kB" line of /proc/self/status, or -1.
long status_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(f, line)) {
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':')
      return std::stol(line.substr(n + 1));
  }
  return -1;
}

bool reset_high_water_mark() {
  FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return (std::fclose(f) == 0) && ok;
}

long max_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

}  // namespace

double extra_peak_mib(const std::function<void()>& fn) {
  fn();
  if (reset_high_water_mark()) {
    const long base = status_kb("VmRSS");
    fn();
    const long peak = status_kb("VmHWM");
    if (base >= 0 && peak >= 0) return static_cast<double>(std::max(0L, peak - base)) / 1024.0;
    return -1.0;
  }
  const long before = max_rss_kb();
  fn();
  const long after = max_rss_kb();
  return static_cast<double>(std::max(0L, after - before)) / 1024.0;
}

}  // namespace lrbench
