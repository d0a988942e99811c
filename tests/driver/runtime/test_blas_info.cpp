// runtime/blas_info: the BLAS library the process loaded, named, with its
// thread counts; the warning only for the reference BLAS.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <link.h>
#include <limits.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "runtime/blas_info.h"

namespace lr::driver {
namespace {

// The real path of the libblas.so.3 the dynamic linker loaded (found by its
// soname, not by the symbol blas_info looks up); "" when none is loaded.
std::string loaded_libblas_path() {
  void* handle = ::dlopen("libblas.so.3", RTLD_LAZY | RTLD_NOLOAD);
  if (!handle) return "";
  link_map* map = nullptr;
  std::string path;
  char buf[PATH_MAX];
  if (::dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && ::realpath(map->l_name, buf)) path = buf;
  ::dlclose(handle);
  return path;
}

TEST(BlasInfo, FindsALoadedLibraryAndThreads) {
  const BlasInfo info = find_blas_info();
  ASSERT_FALSE(info.path.empty()) << info.name;
  EXPECT_TRUE(std::filesystem::exists(info.path)) << info.path;
  EXPECT_GE(info.torch_threads, 1);
  EXPECT_FALSE(info.name.empty());
  EXPECT_EQ(blas_line(info).rfind("BLAS: " + info.name, 0), 0u) << blas_line(info);
}

TEST(BlasInfo, NamesTheLibblasTheLinkerLoaded) {
  const std::string libblas = loaded_libblas_path();
  if (libblas.empty()) GTEST_SKIP() << "no libblas.so.3 loaded (LibTorch built without a shared BLAS)";
  const BlasInfo info = find_blas_info();
  EXPECT_EQ(info.path, libblas);
  if (libblas.find("openblas") != std::string::npos) {
    EXPECT_EQ(info.name.rfind("OpenBLAS (", 0), 0u) << info.name;
    EXPECT_EQ(info.openblas_config.rfind("OpenBLAS ", 0), 0u) << info.openblas_config;
    EXPECT_GE(info.openblas_threads, 1);
    EXPECT_FALSE(info.is_reference);
    EXPECT_EQ(slow_blas_warning(info), "");
  } else if (std::filesystem::path(libblas).parent_path().filename() == "blas") {
    EXPECT_TRUE(info.is_reference);
    EXPECT_EQ(info.name, "reference BLAS (netlib)");
    EXPECT_NE(slow_blas_warning(info).find("libopenblas0-openmp"), std::string::npos);
  } else {
    GTEST_SKIP() << "libblas.so.3 is neither OpenBLAS nor the reference BLAS: " << libblas;
  }
}

TEST(BlasInfo, WarnsOnlyOnTheReferenceBlas) {
  BlasInfo reference;
  reference.name = "reference BLAS (netlib)";
  reference.is_reference = true;
  const std::string warning = slow_blas_warning(reference);
  EXPECT_NE(warning.find("9x slower"), std::string::npos) << warning;
  EXPECT_NE(warning.find("apt-get install libopenblas0-openmp"), std::string::npos) << warning;
  EXPECT_EQ(warning.find('\n'), std::string::npos);
  BlasInfo other;
  other.name = "OpenBLAS (openmp) 0.3.21";
  EXPECT_EQ(slow_blas_warning(other), "");
}

}  // namespace
}  // namespace lr::driver
