// One scratch object per OpenMP thread, built before the parallel loop so
// that allocation failures happen before any output is written.
#pragma once

#include <omp.h>

#include <cstddef>
#include <vector>

namespace lr::core::cpu {

template <class Workspace>
class ThreadWorkspaces {
 public:
  template <class... Args>
  explicit ThreadWorkspaces(const Args&... args) {
    const int n = omp_get_max_threads();
    spaces_.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) spaces_.emplace_back(args...);
  }
  // Inside a parallel region: this thread's own.
  Workspace& local() { return spaces_[static_cast<size_t>(omp_get_thread_num())]; }
  int threads() const { return static_cast<int>(spaces_.size()); }

 private:
  std::vector<Workspace> spaces_;
};

}  // namespace lr::core::cpu
