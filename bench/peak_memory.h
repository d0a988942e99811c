// Peak resident memory added by one call: resets the kernel's high-water mark
// (write "5" to /proc/self/clear_refs), runs the call, and reads VmHWM - VmRSS
// from /proc/self/status. Falls back to getrusage(ru_maxrss), which only sees
// growth past the process's earlier peak, where clear_refs is not writable.
#pragma once

#include <functional>

namespace lrbench {

// MiB by which the resident set rose above its level at entry while fn ran;
// fn runs once untimed first so that lazy one-time setup (thread pools) is
// not counted. Returns -1 if nothing could be measured.
double extra_peak_mib(const std::function<void()>& fn);

}  // namespace lrbench
