// is_whole_png (report/png_file.h) on a real plot: gnuplot's pngcairo draws
// one, then copies of it cut at several lengths (what a full disk or a kill
// leaves) must not pass, nor a file with bytes after IEND or a non-PNG.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "report/gnuplot.h"
#include "report/png_file.h"

namespace fs = std::filesystem;
using lr::driver::is_whole_png;

namespace {

fs::path scratch() {
  const fs::path dir = fs::path(LR_REPORT_TEST_SCRATCH) / "png_file";
  fs::create_directories(dir);
  return dir;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

// A plot as the report draws them (pngcairo); "" without gnuplot.
std::string gnuplot_png() {
  const auto gnuplot = lr::driver::find_program("gnuplot");
  if (!gnuplot) return "";
  const fs::path png = scratch() / "plot.png", script = scratch() / "plot.gp";
  fs::remove(png);
  write_bytes(script, "set terminal pngcairo size 300,200\nset output " + lr::driver::gp_quote(png.string()) +
                          "\nplot sin(x) title 'sin'\n");
  EXPECT_EQ(lr::driver::run_gnuplot(*gnuplot, script, scratch() / "gnuplot.log"), 0);
  return read_bytes(png);
}

}  // namespace

TEST(PngFile, AWholePlotPassesAndEveryCutOneFails) {
  const std::string png = gnuplot_png();
  if (png.empty()) GTEST_SKIP() << "gnuplot is not installed (apt-get install gnuplot-nox)";
  ASSERT_GT(png.size(), 100u);
  const fs::path file = scratch() / "copy.png";
  write_bytes(file, png);
  EXPECT_TRUE(is_whole_png(file));
  // Cut: empty, inside the signature, after it, mid-file, inside IEND, one byte short.
  for (size_t n : {size_t(0), size_t(1), size_t(7), size_t(8), size_t(33), png.size() / 2, png.size() - 12,
                   png.size() - 5, png.size() - 1}) {
    write_bytes(file, png.substr(0, n));
    EXPECT_FALSE(is_whole_png(file)) << "cut to " << n << " of " << png.size() << " bytes";
  }
  write_bytes(file, png + "x");  // something after IEND: not what gnuplot wrote
  EXPECT_FALSE(is_whole_png(file));
  std::string no_signature = png;
  no_signature[1] = 'Q';
  write_bytes(file, no_signature);
  EXPECT_FALSE(is_whole_png(file));
}

TEST(PngFile, AMissingFileOrAFolderIsNotAPng) {
  EXPECT_FALSE(is_whole_png(scratch() / "none.png"));
  EXPECT_FALSE(is_whole_png(scratch()));
}
