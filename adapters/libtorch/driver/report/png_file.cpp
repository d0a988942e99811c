#include "report/png_file.h"

#include <array>
#include <fstream>

namespace lr::driver {

namespace {

constexpr std::array<unsigned char, 8> kSignature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
// IEND: length 0, type, its CRC (fixed: the chunk has no data).
constexpr std::array<unsigned char, 12> kIend = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};

template <size_t N>
bool reads_as(std::ifstream& in, std::streamoff offset, std::ios::seekdir from,
              const std::array<unsigned char, N>& want) {
  std::array<char, N> got{};
  in.seekg(offset, from);
  if (!in.read(got.data(), N)) return false;
  for (size_t i = 0; i < N; ++i)
    if (static_cast<unsigned char>(got[i]) != want[i]) return false;
  return true;
}

}  // namespace

bool is_whole_png(const std::filesystem::path& file) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec || size < kSignature.size() + kIend.size()) return false;
  std::ifstream in(file, std::ios::binary);
  return in && reads_as(in, 0, std::ios::beg, kSignature) &&
         reads_as(in, -static_cast<std::streamoff>(kIend.size()), std::ios::end, kIend);
}

}  // namespace lr::driver
