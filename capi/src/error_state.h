// How failures cross the C boundary: code inside the library throws
// ApiError; `guarded` turns any exception into an lr_status plus a
// thread-local message, so nothing escapes into a C caller.
#pragma once

#include <exception>
#include <new>
#include <string>

#include "device_error.h"
#include "lightreasoner/lightreasoner.h"

namespace lr::capi {

struct ApiError : std::exception {
  ApiError(lr_status s, std::string m) : status(s), message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }
  lr_status status;
  std::string message;
};

[[noreturn]] inline void fail(lr_status status, std::string message) {
  throw ApiError(status, std::move(message));
}
[[noreturn]] inline void invalid(std::string message) {
  fail(LR_ERR_INVALID_ARGUMENT, std::move(message));
}

void set_last_error(const char* function, const std::string& message);
void clear_last_error();

template <class Body>
lr_status guarded(const char* function, Body&& body) noexcept {
  try {
    clear_last_error();
    body();
    return LR_OK;
  } catch (const ApiError& e) {
    set_last_error(function, e.message);
    return e.status;
  } catch (const lr::core::DeviceError& e) {
    set_last_error(function, e.what());
    return e.out_of_memory ? LR_ERR_OUT_OF_MEMORY : LR_ERR_CUDA;
  } catch (const std::bad_alloc&) {
    set_last_error(function, "out of host memory");
    return LR_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    set_last_error(function, std::string("internal error: ") + e.what());
    return LR_ERR_INTERNAL;
  } catch (...) {
    set_last_error(function, "internal error: unknown exception");
    return LR_ERR_INTERNAL;
  }
}

}  // namespace lr::capi
