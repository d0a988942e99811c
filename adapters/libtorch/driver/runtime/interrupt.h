// Ctrl-C for the long stages: while an InterruptScope is alive, SIGINT only
// raises a flag that the stage polls between batches / updates, so it can
// leave a resumable state and return kExitInterrupted (stages/stage.h). The previous handler
// is restored when the scope ends.
#pragma once

#include <atomic>
#include <csignal>

namespace lr::driver {

class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

  // The flag the handler raises (cleared when the outermost scope starts).
  static const std::atomic<bool>& flag();
  static bool requested() { return flag().load(); }

 private:
  void (*previous_)(int);
  bool outermost_;
};

}  // namespace lr::driver
