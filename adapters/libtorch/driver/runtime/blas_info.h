// Which BLAS library LibTorch's CPU matrix products run on, and with how many
// threads. Debian's LibTorch links libblas.so.3, which is whichever
// implementation the system's alternatives (or LD_LIBRARY_PATH) provide: the
// reference BLAS makes float32 matmuls about 9x slower than OpenBLAS, so the
// driver names the one it got (`lightreasoner --version`, the start of every
// config verb's log) and warns on the reference one.
#pragma once

#include <ostream>
#include <string>

namespace lr::driver {

struct BlasInfo {
  std::string name;  // "OpenBLAS (openmp) 0.3.21", "reference BLAS (netlib)", or the library's file name
  std::string path;  // real path of the loaded library that defines sgemm_; "" when none does
  std::string openblas_config;  // openblas_get_config(); "" when the library is not OpenBLAS
  bool is_reference = false;    // the netlib reference implementation (Debian's .../blas/libblas.so.3)
  int torch_threads = 1;        // at::get_num_threads()
  int openblas_threads = 0;     // openblas_get_num_threads(); 0 when the library is not OpenBLAS
};

// Looks up the library the process resolves sgemm_ to (the one LibTorch calls).
BlasInfo find_blas_info();

// One line, e.g. "BLAS: OpenBLAS (openmp) 0.3.21 [config] at PATH; threads: LibTorch 2, OpenBLAS 2".
std::string blas_line(const BlasInfo& info);

// The warning for the reference BLAS (one line); "" for any other library.
std::string slow_blas_warning(const BlasInfo& info);

// Writes blas_line and, when there is one, the warning, each on its own line.
void print_blas_lines(std::ostream& out, const BlasInfo& info);

}  // namespace lr::driver
