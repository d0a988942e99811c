// std::cout into std::cerr's buffer until restore() or the end of the scope:
// the stages print their outputs' paths on stdout, and under `run` and
// `sweep` those go to stderr with the rest of the log, so that stdout is the
// verb's one result path.
#pragma once

#include <iostream>

namespace lr::driver {

class CoutToCerr {
 public:
  CoutToCerr() : saved_(std::cout.rdbuf(std::cerr.rdbuf())) {}
  ~CoutToCerr() { restore(); }
  CoutToCerr(const CoutToCerr&) = delete;
  CoutToCerr& operator=(const CoutToCerr&) = delete;
  void restore() {
    if (saved_) std::cout.rdbuf(saved_);
    saved_ = nullptr;
  }

 private:
  std::streambuf* saved_;
};

}  // namespace lr::driver
