#include "runtime/blas_info.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <filesystem>
#include <sstream>

namespace lr::driver {
namespace {

using ConfigFn = char* (*)();
using IntFn = int (*)();

std::string real_path(const char* path) {
  char buf[PATH_MAX];
  return ::realpath(path, buf) ? std::string(buf) : std::string(path);
}

// The loaded object that defines sgemm_ first in the global lookup order:
// the definition LibTorch's own sgemm_ calls were bound to. "" when none does.
std::string sgemm_library_path() {
  void* sgemm = ::dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info where{};
  if (!sgemm || ::dladdr(sgemm, &where) == 0 || !where.dli_fname) return "";
  return real_path(where.dli_fname);
}

std::string parallel_kind(IntFn get_parallel) {
  switch (get_parallel ? get_parallel() : -1) {
    case 0: return "sequential";
    case 1: return "pthreads";
    case 2: return "openmp";
    default: return "threading unknown";
  }
}

// Fills the OpenBLAS fields when `path` or a library it depends on is OpenBLAS
// (Debian's OpenBLAS libblas.so.3 forwards to libopenblas.so.0; dlsym on a
// handle searches the library and its dependencies).
void read_openblas(const std::string& path, BlasInfo& info) {
  void* handle = ::dlopen(path.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  if (!handle) return;
  const auto get_config = reinterpret_cast<ConfigFn>(::dlsym(handle, "openblas_get_config"));
  if (get_config && get_config()) {
    info.openblas_config = get_config();
    std::istringstream words(info.openblas_config);
    std::string product, version;
    words >> product >> version;  // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."
    info.name = "OpenBLAS (" + parallel_kind(reinterpret_cast<IntFn>(::dlsym(handle, "openblas_get_parallel"))) +
                ") " + version;
    const auto get_threads = reinterpret_cast<IntFn>(::dlsym(handle, "openblas_get_num_threads"));
    if (get_threads) info.openblas_threads = get_threads();
  }
  ::dlclose(handle);
}

}  // namespace

BlasInfo find_blas_info() {
  BlasInfo info;
  info.torch_threads = at::get_num_threads();
  info.path = sgemm_library_path();
  if (info.path.empty()) {
    info.name = "no shared library defines sgemm_ (LibTorch's own or a static BLAS)";
    return info;
  }
  read_openblas(info.path, info);
  if (!info.name.empty()) return info;
  const std::filesystem::path p(info.path);
  // Debian installs the netlib reference implementation as .../blas/libblas.so.3.
  info.is_reference = p.parent_path().filename() == "blas" && p.filename().string().rfind("libblas.so", 0) == 0;
  info.name = info.is_reference ? "reference BLAS (netlib)" : p.filename().string();
  return info;
}

std::string blas_line(const BlasInfo& info) {
  std::string line = "BLAS: " + info.name;
  if (!info.openblas_config.empty()) line += " [" + info.openblas_config + "]";
  if (!info.path.empty()) line += " at " + info.path;
  line += "; threads: LibTorch " + std::to_string(info.torch_threads);
  if (!info.openblas_config.empty()) line += ", OpenBLAS " + std::to_string(info.openblas_threads);
  return line;
}

std::string slow_blas_warning(const BlasInfo& info) {
  if (!info.is_reference) return "";
  return "warning: the reference BLAS is loaded: CPU matmuls are ~9x slower than with OpenBLAS "
         "(apt-get install libopenblas0-openmp)";
}

void print_blas_lines(std::ostream& out, const BlasInfo& info) {
  out << blas_line(info) << "\n";
  const std::string warning = slow_blas_warning(info);
  if (!warning.empty()) out << warning << "\n";
}

}  // namespace lr::driver
