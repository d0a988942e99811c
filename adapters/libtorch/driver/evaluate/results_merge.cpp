#include "evaluate/results_merge.h"

#include <fstream>
#include <iterator>

#include "evaluate/results_file.h"
#include "io/atomic_file.h"

namespace lr::driver {

int64_t merge_result_parts(const std::string& path, const std::vector<int64_t>& ids,
                           const std::vector<std::string>& parts) {
  const ResultLines file = read_result_lines(path);
  std::vector<ResultLines> read;
  for (const std::string& p : parts) read.push_back(read_result_lines(p));
  std::string added;
  int64_t n = 0;
  for (int64_t id : ids) {
    if (file.raw.count(id)) continue;
    for (const ResultLines& part : read) {
      const auto it = part.raw.find(id);
      if (it == part.raw.end()) continue;
      added += it->second + "\n";
      ++n;
      break;
    }
  }
  if (n == 0 && file.good_end == file.size) return 0;
  std::string text;
  if (file.good_end > 0) {
    std::ifstream in(path, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    text.resize(file.good_end);
  }
  write_file_atomically(path, text + added);
  return n;
}

}  // namespace lr::driver
