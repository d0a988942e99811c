#include "supervision_store.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "io/bounded_lines.h"
#include "io/json_depth.h"
#include "io/whole_io.h"

namespace lr::driver {

namespace fs = std::filesystem;
using json = nlohmann::json;

size_t kl_bin(double kl) {
  size_t i = 0;
  while (i < kKlBinEdges.size() && !(kl < kKlBinEdges[i])) ++i;
  return i;
}

json to_json(const SupervisionRecord& r) {
  json j;
  j["problem"] = r.problem;
  j["rollout"] = r.rollout;
  j["position"] = r.position;
  j["kl"] = r.kl;
  j["target_ids"] = r.target_ids;
  j["target_weights"] = r.target_weights;
  j["support_size"] = r.support_size;
  return j;
}

json to_json(const ProblemDone& d) {
  json j;
  j["done"] = d.problem;
  j["records"] = d.records;
  j["generated"] = d.generated;
  j["positions"] = d.positions;
  j["cut_at_unshared"] = d.cut_at_unshared;
  j["kl_histogram"] = d.kl_histogram;
  j["kl_faults"] = d.kl_faults;
  return j;
}

namespace {

json header_json(const json& settings) {
  json j;
  j["lightreasoner_supervision"] = kSupervisionFormatVersion;
  j["settings"] = settings;
  return j;
}

// Numbers read exactly: nlohmann's get<T>() converts a float to an integer
// (undefined out of range), wraps a large integer and overflows a float
// silently. These refuse what T cannot hold.
template <class T>
T integer_of(const json& v, const char* key) {
  using limits = std::numeric_limits<T>;
  if (v.is_number_unsigned() && v.get<uint64_t>() <= uint64_t(limits::max())) return T(v.get<uint64_t>());
  if (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() >= int64_t(limits::min()) &&
      v.get<int64_t>() <= int64_t(limits::max()))
    return T(v.get<int64_t>());
  throw std::runtime_error(std::string(key) + " holds " + v.dump() + ", not an integer in [" +
                           std::to_string(limits::min()) + ", " + std::to_string(limits::max()) + "]");
}

float float_of(const json& v, const char* key) {
  if (v.is_number() && std::fabs(v.get<double>()) <= double(std::numeric_limits<float>::max()))
    return float(v.get<double>());
  throw std::runtime_error(std::string(key) + " holds " + v.dump() + ", not a float32 number");
}

template <class T>
T integer_at(const json& j, const char* key) {
  return integer_of<T>(j.at(key), key);
}

int64_t integer_or(const json& j, const char* key, int64_t absent) {
  return j.contains(key) ? integer_at<int64_t>(j, key) : absent;
}

template <class T, class Read>
std::vector<T> array_at(const json& j, const char* key, Read read) {
  const json& a = j.at(key);
  if (!a.is_array()) throw std::runtime_error(std::string(key) + " is not an array");
  std::vector<T> out;
  out.reserve(a.size());
  for (const json& v : a) out.push_back(read(v, key));
  return out;
}

SupervisionRecord record_from(const json& j) {
  SupervisionRecord r;
  r.problem = integer_at<int64_t>(j, "problem");
  r.rollout = array_at<int64_t>(j, "rollout", integer_of<int64_t>);
  r.position = integer_at<int64_t>(j, "position");
  r.kl = float_of(j.at("kl"), "kl");
  r.target_ids = array_at<int32_t>(j, "target_ids", integer_of<int32_t>);
  r.target_weights = array_at<float>(j, "target_weights", float_of);
  r.support_size = integer_at<int32_t>(j, "support_size");
  if (r.target_ids.size() != r.target_weights.size()) throw std::runtime_error("target_ids and target_weights differ in length");
  if (r.position < 0 || r.position + 1 >= static_cast<int64_t>(r.rollout.size()))
    throw std::runtime_error("position outside the rollout");
  return r;
}

ProblemDone done_from(const json& j) {
  ProblemDone d;
  d.problem = integer_at<int64_t>(j, "done");
  d.records = integer_at<int64_t>(j, "records");
  d.generated = integer_or(j, "generated", 0);
  d.positions = integer_or(j, "positions", 0);
  d.cut_at_unshared = j.value("cut_at_unshared", false);
  if (j.contains("kl_histogram")) d.kl_histogram = array_at<int64_t>(j, "kl_histogram", integer_of<int64_t>);
  if (d.kl_histogram.size() != kKlBins) throw std::runtime_error("kl_histogram has the wrong number of bins");
  d.kl_faults = integer_or(j, "kl_faults", 0);
  return d;
}

struct Scan {
  bool has_header = false;
  json settings;
  std::vector<SupervisionRecord> records;  // of complete problems
  std::vector<ProblemDone> problems;
  int64_t good_end = 0;  // byte offset after the last complete problem (or the header)
  int64_t header_end = 0;
  std::vector<std::pair<int64_t, int64_t>> spans;  // per problem (as `problems`): its lines' [begin, end)
  std::string text;  // the file
};

// A scan in progress: the records of the problem being read wait for its
// done marker.
struct ScanState {
  Scan scan;
  std::vector<SupervisionRecord> pending;
  int64_t pending_problem = -1;
  std::string first_bad;  // the first bad line since the last done marker
};

void take_header(ScanState& st, const json& j, int64_t line_no, const std::string& where, size_t next) {
  if (line_no != 1 || !j.contains("lightreasoner_supervision"))
    throw SupervisionStoreError(where + "the first line is not a supervision header");
  if (j.at("lightreasoner_supervision") != kSupervisionFormatVersion)
    throw SupervisionStoreError(where + "unsupported format version " + j.at("lightreasoner_supervision").dump());
  st.scan.has_header = true;
  st.scan.settings = j.value("settings", json::object());
  st.scan.good_end = static_cast<int64_t>(next);
  st.scan.header_end = st.scan.good_end;
}

void take_done(ScanState& st, const json& j, const std::string& where, size_t next) {
  if (!st.first_bad.empty()) throw SupervisionStoreError(st.first_bad);
  ProblemDone d = done_from(j);
  if (d.records != static_cast<int64_t>(st.pending.size()))
    throw SupervisionStoreError(where + "done marker of problem " + std::to_string(d.problem) + " says " +
                                std::to_string(d.records) + " records, the file has " +
                                std::to_string(st.pending.size()));
  if (!st.pending.empty() && st.pending_problem != d.problem)
    throw SupervisionStoreError(where + "done marker of problem " + std::to_string(d.problem) +
                                " after records of problem " + std::to_string(st.pending_problem));
  for (const ProblemDone& e : st.scan.problems)
    if (e.problem == d.problem)
      throw SupervisionStoreError(where + "problem " + std::to_string(d.problem) + " is done twice");
  for (auto& r : st.pending) st.scan.records.push_back(std::move(r));
  st.pending.clear();
  st.pending_problem = -1;
  st.scan.problems.push_back(std::move(d));
  st.scan.spans.emplace_back(st.scan.good_end, static_cast<int64_t>(next));  // right after the previous problem
  st.scan.good_end = static_cast<int64_t>(next);
}

void take_record(ScanState& st, const json& j, const std::string& where) {
  SupervisionRecord r = record_from(j);
  if (!st.pending.empty() && r.problem != st.pending_problem) {
    // Records of a problem without its marker followed by another
    // problem: only possible by corruption (one problem is written at a time).
    throw SupervisionStoreError(where + "record of problem " + std::to_string(r.problem) +
                                " among records of problem " + std::to_string(st.pending_problem) +
                                " (no done marker between them)");
  }
  st.pending_problem = r.problem;
  st.pending.push_back(std::move(r));
}

// One complete line; `next` is the offset after it.
void take_line(ScanState& st, const std::string& line, int64_t line_no, const std::string& where, size_t next) {
  if (json_too_deep(line)) {
    if (st.first_bad.empty()) st.first_bad = where + json_too_deep_message();
    return;
  }
  const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    if (st.first_bad.empty()) st.first_bad = where + "not a JSON object";
    return;
  }
  try {
    if (!st.scan.has_header) take_header(st, j, line_no, where, next);
    else if (j.contains("done")) take_done(st, j, where, next);
    else if (j.contains("problem")) take_record(st, j, where);
    else if (st.first_bad.empty()) st.first_bad = where + "neither a record nor a done marker";
  } catch (const SupervisionStoreError&) {
    throw;
  } catch (const std::exception& e) {
    if (st.first_bad.empty()) st.first_bad = where + "bad line (" + e.what() + ")";
  }
}

// Reads the lines of a store. Lines after the last done marker may be partial
// or unreadable (a kill mid-write); anything wrong before it is corruption.
Scan scan_file(const std::string& path) {
  std::string text;
  if (const int err = read_whole_file(path, text))
    throw SupervisionStoreError(path + ": cannot read the supervision file: " + std::strerror(err));
  if (const auto overlong = first_overlong_line(text, path)) throw SupervisionStoreError(*overlong);
  ScanState st;
  int64_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) break;  // a partial last line: the tail
    ++line_no;
    take_line(st, text.substr(pos, nl - pos), line_no, path + ":" + std::to_string(line_no) + ": ", nl + 1);
    pos = nl + 1;
  }
  st.scan.text = std::move(text);
  return std::move(st.scan);
}

std::string settings_difference(const json& a, const json& b) {
  std::string out;
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (!a.contains(it.key())) out += " " + it.key() + " (new)";
    else if (a.at(it.key()) != it.value())
      out += " " + it.key() + " (file " + a.at(it.key()).dump() + ", now " + it.value().dump() + ")";
  }
  for (auto it = a.begin(); it != a.end(); ++it)
    if (!b.contains(it.key())) out += " " + it.key() + " (not set now)";
  return out;
}

}  // namespace

SupervisionStore SupervisionStore::open(const std::string& path, const json& settings) {
  SupervisionStore st;
  st.path_ = path;
  const bool exists = fs::exists(path) && fs::file_size(path) > 0;
  Scan s;
  if (exists) s = scan_file(path);
  if (exists && s.has_header && s.settings != settings) throw other_settings_error(path, s.settings, settings);
  if (exists) {
    const auto size = static_cast<int64_t>(fs::file_size(path));
    if (size != s.good_end) {
      st.truncated_bytes_ = size - s.good_end;
      fs::resize_file(path, static_cast<uintmax_t>(s.good_end));
    }
  }
  st.file_ = AppendFile(path);
  if (!s.has_header) st.file_.append(header_json(settings).dump() + "\n");
  for (const ProblemDone& d : s.problems) st.done_.insert(d.problem);
  return st;
}

void SupervisionStore::append_problem(const std::vector<SupervisionRecord>& records, const ProblemDone& done) {
  if (done.records != static_cast<int64_t>(records.size()))
    throw SupervisionStoreError(path_ + ": done marker of problem " + std::to_string(done.problem) + " counts " +
                                std::to_string(done.records) + " records, given " + std::to_string(records.size()));
  if (is_done(done.problem))
    throw SupervisionStoreError(path_ + ": problem " + std::to_string(done.problem) + " is already done");
  std::string data;
  for (const SupervisionRecord& r : records) {
    if (r.problem != done.problem)
      throw SupervisionStoreError(path_ + ": a record of problem " + std::to_string(r.problem) +
                                  " given with the done marker of problem " + std::to_string(done.problem));
    data += to_json(r).dump();
    data += '\n';
  }
  data += to_json(done).dump();
  data += '\n';
  file_.append(data);
  done_.insert(done.problem);
}

SupervisionStoreError other_settings_error(const std::string& path, const json& file_settings, const json& settings) {
  return SupervisionStoreError(path + ": written with other settings; resume refused:" +
                               settings_difference(file_settings, settings));
}

SupervisionBlocks read_supervision_blocks(const std::string& path) {
  const Scan s = scan_file(path);
  if (!s.has_header) throw SupervisionStoreError(path + ": no supervision header");
  SupervisionBlocks b;
  b.settings = s.settings;
  b.header = s.text.substr(0, static_cast<size_t>(s.header_end));
  for (size_t i = 0; i < s.problems.size(); ++i) {
    const auto [begin, end] = s.spans[i];
    b.order.push_back(s.problems[i].problem);
    b.problems.emplace(s.problems[i].problem,
                       s.text.substr(static_cast<size_t>(begin), static_cast<size_t>(end - begin)));
  }
  return b;
}

SupervisionFile read_supervision(const std::string& path) {
  Scan s = scan_file(path);
  if (!s.has_header) throw SupervisionStoreError(path + ": no supervision header");
  SupervisionFile f;
  f.settings = std::move(s.settings);
  f.records = std::move(s.records);
  f.problems = std::move(s.problems);
  return f;
}

}  // namespace lr::driver
