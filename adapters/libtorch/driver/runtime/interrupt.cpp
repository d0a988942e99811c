#include "runtime/interrupt.h"

namespace lr::driver {

namespace {
std::atomic<bool> g_stop{false};
std::atomic<int> g_depth{0};
extern "C" void on_sigint(int) { g_stop.store(true); }
}  // namespace

InterruptScope::InterruptScope() : outermost_(g_depth.fetch_add(1) == 0) {
  if (outermost_) g_stop.store(false);
  previous_ = std::signal(SIGINT, on_sigint);
}

InterruptScope::~InterruptScope() {
  std::signal(SIGINT, previous_);
  g_depth.fetch_sub(1);
}

const std::atomic<bool>& InterruptScope::flag() { return g_stop; }

}  // namespace lr::driver
