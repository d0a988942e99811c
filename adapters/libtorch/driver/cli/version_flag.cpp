// lightreasoner --version: the library the driver loaded (lr_abi_version,
// lr_build_info), the LibTorch it was built with, and the BLAS it runs on
// (runtime/blas_info.h), with the warning when that is the slow reference one.
#include <torch/version.h>

#include <sstream>
#include <string>

#include "commands.h"
#include "lightreasoner/lightreasoner.h"
#include "runtime/blas_info.h"

namespace lr::driver::cli {
namespace {

std::string version_text() {
  const uint32_t abi = lr_abi_version();
  std::ostringstream out;
  out << "lightreasoner (reference driver), built against ABI " << LR_ABI_VERSION_MAJOR << "."
      << LR_ABI_VERSION_MINOR << ", loaded ABI " << (abi >> 16) << "." << (abi & 0xffffu) << "\n"
      << lr_build_info() << "\n"
      << "LibTorch " << TORCH_VERSION << "\n";
  print_blas_lines(out, find_blas_info());
  std::string text = out.str();
  text.pop_back();  // CLI11 ends the version text with its own newline
  return text;
}

}  // namespace

void add_version_flag(CLI::App& app) {
  app.set_version_flag("--version", version_text, "print the library, LibTorch and BLAS versions and exit");
}

}  // namespace lr::driver::cli
