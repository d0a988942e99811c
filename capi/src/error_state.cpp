#include "error_state.h"

namespace lr::capi {

// One message per thread: a failure on one thread never shows on another.
thread_local std::string last_error;

void set_last_error(const char* function, const std::string& message) {
  try {
    last_error = std::string(function) + ": " + message;
  } catch (...) {
    last_error.clear();  // out of memory while reporting: leave it empty rather than throw
  }
}

void clear_last_error() { last_error.clear(); }

}  // namespace lr::capi

extern "C" LR_API const char* lr_last_error(void) { return lr::capi::last_error.c_str(); }
