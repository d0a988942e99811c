// The supervision store of stage 1: a JSONL file, appended as records are
// made, that a killed run resumes exactly (nothing lost, nothing duplicated).
// The format is documented in FORMAT.md beside this file; in short, one JSON
// object per line, of three kinds:
//
//   header (first line, once):
//     {"lightreasoner_supervision": 1, "settings": {...}}
//       settings: everything that decides the records (sampling options, the
//       models' and tokenizer's vocabulary sizes, ...). Resuming with other
//       settings is refused.
//   record (one per kept step):
//     {"problem": id, "rollout": [ids], "position": t, "kl": x,
//      "target_ids": [...], "target_weights": [...], "support_size": n}
//       rollout   the exact ids: prompt ids + generated ids (no decode/re-encode)
//       position  index into rollout of the last prefix token: the prefix is
//                 rollout[0..t] (inclusive), the target is the distribution of
//                 token t+1; prompt_len - 1 <= t <= len(rollout) - 2
//       kl        KL(p_E || p_A) at t over the shared vocabulary (> kappa)
//       target_ids / target_weights  the sparse contrastive target, weights
//                 descending, summing to 1; min(support_size, K) entries
//       support_size  |M| before truncation to K (> K: truncated)
//   done marker (one per problem, after all its records):
//     {"done": id, "records": n, "generated": g, "positions": p,
//      "cut_at_unshared": b, "kl_histogram": [counts per kKlBinEdges bin], "kl_faults": f}
//       written together with the problem's records and fsync'ed; a problem
//       counts as done only with its marker. generated / positions / the KL
//       histogram cover every scored step of the problem (kept or not), so the
//       statistics of a resumed file are those of an uninterrupted run.
//
// On open, a file without a complete last problem (a kill in the middle of a
// write) is truncated to the end of its last done marker (or of the header).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/append_file.h"

namespace lr::driver {

inline constexpr int kSupervisionFormatVersion = 1;

// Upper edges of the fixed KL histogram bins: bin i counts KL < kKlBinEdges[i]
// (and >= the previous edge); the last bin, i = kKlBinEdges.size(), counts
// KL >= 6.4. Non-finite KL (data faults) are counted apart, as kl_faults.
inline constexpr std::array<double, 8> kKlBinEdges = {0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4};
inline constexpr size_t kKlBins = kKlBinEdges.size() + 1;
size_t kl_bin(double kl);  // the bin of a finite KL

struct SupervisionRecord {
  int64_t problem = 0;
  std::vector<int64_t> rollout;
  int64_t position = 0;
  float kl = 0.0f;
  std::vector<int32_t> target_ids;
  std::vector<float> target_weights;
  int32_t support_size = 0;
};

struct ProblemDone {
  int64_t problem = 0;
  int64_t records = 0;
  int64_t generated = 0;
  int64_t positions = 0;
  bool cut_at_unshared = false;
  std::vector<int64_t> kl_histogram = std::vector<int64_t>(kKlBins, 0);
  int64_t kl_faults = 0;
};

// Corrupt or mismatched files: the message names the file and the line.
class SupervisionStoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

nlohmann::json to_json(const SupervisionRecord& r);
nlohmann::json to_json(const ProblemDone& d);

// The appending writer.
class SupervisionStore {
 public:
  // Creates the file (with its header) or resumes it: checks every line up to
  // the last done marker, refuses other settings, truncates a partial last
  // problem. Throws SupervisionStoreError.
  static SupervisionStore open(const std::string& path, const nlohmann::json& settings);

  SupervisionStore(SupervisionStore&&) noexcept = default;
  SupervisionStore& operator=(SupervisionStore&&) noexcept = default;

  const std::set<int64_t>& done() const { return done_; }
  bool is_done(int64_t problem) const { return done_.count(problem) != 0; }
  // Bytes of a partial last problem removed by open() (0 for a clean file).
  int64_t truncated_bytes() const { return truncated_bytes_; }
  const std::string& path() const { return path_; }

  // Appends the problem's records and its done marker in one write, then
  // fsync. The records must belong to done.problem and number done.records.
  void append_problem(const std::vector<SupervisionRecord>& records, const ProblemDone& done);

 private:
  SupervisionStore() = default;
  std::string path_;
  AppendFile file_;
  std::set<int64_t> done_;
  int64_t truncated_bytes_ = 0;
};

// Everything of complete problems in a store file (a partial last problem is
// ignored, not removed). Throws SupervisionStoreError.
struct SupervisionFile {
  nlohmann::json settings;
  std::vector<SupervisionRecord> records;
  std::vector<ProblemDone> problems;  // file order
};
SupervisionFile read_supervision(const std::string& path);

// A store file's bytes cut where they can be spliced (merging the parts of a
// sharded run, supervision_merge.h): its header line and each complete
// problem's lines (records and done marker) as written. The file's complete
// part is header + problems in `order`. Throws SupervisionStoreError.
struct SupervisionBlocks {
  nlohmann::json settings;
  std::string header;                       // with its newline
  std::vector<int64_t> order;               // problems in file order
  std::map<int64_t, std::string> problems;  // problem -> its lines
};
SupervisionBlocks read_supervision_blocks(const std::string& path);

// The error open() throws for a file written with other settings: names the
// file and each setting that differs.
SupervisionStoreError other_settings_error(const std::string& path, const nlohmann::json& file_settings,
                                           const nlohmann::json& settings);

}  // namespace lr::driver
