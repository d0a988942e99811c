// The safetensors format: reader (mmap, full validation) and atomic writer.
#include "safetensors.h"

#include "json_util.h"
#include "io/atomic_file.h"
#include "io/json_depth.h"
#include "io/whole_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <utility>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors stores little-endian data; this reader maps it as is");

namespace lr::driver {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------- dtypes

namespace {

struct DtypeInfo {
  StDtype dtype;
  const char* name;
  size_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {StDtype::F64, "F64", 8},  {StDtype::F32, "F32", 4}, {StDtype::F16, "F16", 2},
    {StDtype::BF16, "BF16", 2}, {StDtype::I64, "I64", 8}, {StDtype::I32, "I32", 4},
    {StDtype::I16, "I16", 2},  {StDtype::I8, "I8", 1},   {StDtype::U8, "U8", 1},
    {StDtype::BOOL, "BOOL", 1},
};

const DtypeInfo& info_of(StDtype d) {
  for (const DtypeInfo& i : kDtypes)
    if (i.dtype == d) return i;
  throw CheckpointError("safetensors: invalid dtype enum value " + std::to_string(static_cast<int>(d)));
}

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const DtypeInfo& i : kDtypes)
    if (name == i.name) return &i;
  return nullptr;
}

std::string errno_text(int err) { return std::strerror(err); }

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// numel x elem_size with overflow checks; false on overflow or a negative dim.
bool byte_length(const std::vector<int64_t>& shape, size_t elem_size, uint64_t& out) {
  uint64_t n = elem_size;
  for (int64_t d : shape) {
    if (d < 0) return false;
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return false;
  }
  out = n;
  return true;
}

// Strict UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
// Returns the offset of the first bad byte, or npos.
size_t first_invalid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    i += len;
  }
  return std::string::npos;
}

bool as_nonnegative(const json& j, uint64_t& out) {
  if (j.is_number_unsigned()) {
    out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (v < 0) return false;
    out = static_cast<uint64_t>(v);
    return true;
  }
  return false;
}

}  // namespace

namespace detail {

json parse_json_strict(const std::string& text, const std::string& where, const std::string& what) {
  std::vector<std::set<std::string>> keys;  // one set per open object; arrays push an unused set
  std::string duplicate;
  size_t duplicate_depth = 0;
  json::parser_callback_t cb = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && parsed.is_string() && !keys.back().insert(parsed.get<std::string>()).second &&
            duplicate.empty()) {
          duplicate = parsed.get<std::string>();
          duplicate_depth = keys.size();
        }
        break;
      default:
        break;
    }
    return true;
  };
  if (json_too_deep(text)) throw CheckpointError(where + ": " + what + ": " + json_too_deep_message());
  json j;
  try {
    j = json::parse(text, cb);
  } catch (const json::exception& e) {
    throw CheckpointError(where + ": " + what + " is not valid JSON: " + e.what());
  }
  if (!duplicate.empty()) {
    if (duplicate_depth == 1)
      throw CheckpointError(where + ": key '" + duplicate + "' appears twice in the " + what);
    throw CheckpointError(where + ": key '" + duplicate + "' appears twice in one object of the " + what);
  }
  return j;
}

std::string read_text_file(const std::string& path) {
  std::string text;
  if (const int err = read_whole_file(path, text)) throw CheckpointError(path + ": cannot read: " + errno_text(err));
  return text;
}

}  // namespace detail

using detail::parse_json_strict;
using detail::read_text_file;

const char* st_dtype_name(StDtype d) { return info_of(d).name; }
size_t st_dtype_size(StDtype d) { return info_of(d).size; }

// ---------------------------------------------------------------- the mapping

class MappedFile {
 public:
  explicit MappedFile(std::string path) : path_(std::move(path)) {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw CheckpointError(path_ + ": cannot open: " + errno_text(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      throw CheckpointError(path_ + ": cannot stat: " + errno_text(err));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      throw CheckpointError(path_ + ": not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ < 8) {
      ::close(fd);
      throw CheckpointError(path_ + ": file is " + std::to_string(size_) +
                            " bytes, shorter than the 8-byte header length; truncated or not a safetensors file");
    }
    // Private and writable: a zero-copy tensor written in place gets its own
    // copy of the page and never touches the file.
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED && errno == ENOMEM) p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) throw CheckpointError(path_ + ": cannot mmap: " + errno_text(err));
    base_ = static_cast<const unsigned char*>(p);
  }
  ~MappedFile() {
    if (base_) ::munmap(const_cast<unsigned char*>(base_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const unsigned char* data() const { return base_; }
  size_t size() const { return size_; }

 private:
  std::string path_;
  const unsigned char* base_ = nullptr;
  size_t size_ = 0;
};

std::string source_path(const TensorView& view) { return view.owner ? view.owner->path() : std::string(); }

// ---------------------------------------------------------------- reader

namespace {

// The header's JSON object; header_length is set to its size in bytes.
json read_header(const MappedFile& mapping, uint64_t& header_length) {
  constexpr uint64_t kMaxHeader = 100'000'000;
  const std::string& path = mapping.path();
  const unsigned char* base = mapping.data();
  const size_t size = mapping.size();
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | base[i];
  if (n > kMaxHeader)
    throw CheckpointError(path + ": header length " + std::to_string(n) + " exceeds the limit of " +
                          std::to_string(kMaxHeader) + " bytes; not a safetensors file?");
  if (n > size - 8)
    throw CheckpointError(path + ": header length " + std::to_string(n) + " runs past the end of the file (" +
                          std::to_string(size) + " bytes); truncated?");
  const std::string text(reinterpret_cast<const char*>(base + 8), static_cast<size_t>(n));
  if (const size_t bad = first_invalid_utf8(text); bad != std::string::npos)
    throw CheckpointError(path + ": header is not valid UTF-8 (byte " + std::to_string(bad) + " of the header)");
  if (text.empty() || text[0] != '{')
    throw CheckpointError(path + ": header must be a JSON object starting with '{'");
  json header = parse_json_strict(text, path, "header");
  if (!header.is_object()) throw CheckpointError(path + ": header is not a JSON object");
  header_length = n;
  return header;
}

std::map<std::string, std::string> read_metadata(const json& entry, const std::string& path) {
  if (!entry.is_object()) throw CheckpointError(path + ": __metadata__ is not a JSON object");
  std::map<std::string, std::string> out;
  for (auto m = entry.begin(); m != entry.end(); ++m) {
    if (!m.value().is_string())
      throw CheckpointError(path + ": __metadata__ entry '" + m.key() + "' is not a string");
    out[m.key()] = m.value().get<std::string>();
  }
  return out;
}

// A tensor's byte range in the data section.
struct Span {
  uint64_t begin, end;
  size_t index;
};

// dtype and shape of a header entry (the view's data is set by the caller).
TensorView view_of(const std::string& name, const json& entry, const std::string& where) {
  if (!entry.is_object()) throw CheckpointError(where + ": entry is not a JSON object");
  const auto dt = entry.find("dtype");
  if (dt == entry.end() || !dt->is_string()) throw CheckpointError(where + ": missing or non-string dtype");
  const DtypeInfo* info = dtype_by_name(dt->get<std::string>());
  if (!info) throw CheckpointError(where + ": unsupported dtype '" + dt->get<std::string>() + "'");
  const auto sh = entry.find("shape");
  if (sh == entry.end() || !sh->is_array()) throw CheckpointError(where + ": missing or non-array shape");
  TensorView view;
  view.name = name;
  view.dtype = info->dtype;
  for (const json& d : *sh) {
    uint64_t v = 0;
    if (!as_nonnegative(d, v) || v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw CheckpointError(where + ": shape " + sh->dump() + " has an entry that is not a non-negative integer");
    view.shape.push_back(static_cast<int64_t>(v));
  }
  return view;
}

// The entry's data_offsets, checked against the data section and the view's dtype and shape.
Span span_of(const json& entry, const TensorView& view, uint64_t data_size, const std::string& where) {
  const auto off = entry.find("data_offsets");
  if (off == entry.end() || !off->is_array() || off->size() != 2)
    throw CheckpointError(where + ": data_offsets must be an array [begin, end]");
  uint64_t begin = 0, end = 0;
  if (!as_nonnegative((*off)[0], begin) || !as_nonnegative((*off)[1], end))
    throw CheckpointError(where + ": data_offsets " + off->dump() + " are not non-negative integers");
  if (begin > end) throw CheckpointError(where + ": data_offsets " + off->dump() + " end before they begin");
  if (end > data_size)
    throw CheckpointError(where + ": data_offsets " + off->dump() + " run past the end of the data section (" +
                          std::to_string(data_size) + " bytes); truncated file?");
  uint64_t expected = 0;
  if (!byte_length(view.shape, st_dtype_size(view.dtype), expected))
    throw CheckpointError(where + ": shape " + shape_text(view.shape) + " overflows");
  if (expected != end - begin)
    throw CheckpointError(where + ": " + std::to_string(end - begin) + " bytes in data_offsets but shape " +
                          shape_text(view.shape) + " of " + st_dtype_name(view.dtype) + " needs " +
                          std::to_string(expected));
  return {begin, end, 0};
}

// The tensors must tile the data section exactly: sorted by offset, each
// begins where the previous ended, and the last ends at the end of the file.
void check_tiling(std::vector<Span> spans, const std::vector<TensorView>& tensors, uint64_t data_size,
                  const std::string& path) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t pos = 0;
  const std::string* prev = nullptr;
  for (const Span& s : spans) {
    const std::string& name = tensors[s.index].name;
    if (s.begin < pos)
      throw CheckpointError(path + ": tensor '" + name + "' overlaps tensor '" + *prev + "' (its data begins at " +
                            std::to_string(s.begin) + ", before " + std::to_string(pos) + ")");
    if (s.begin > pos)
      throw CheckpointError(path + ": gap of " + std::to_string(s.begin - pos) + " bytes before tensor '" + name +
                            "' (data offset " + std::to_string(pos) + " to " + std::to_string(s.begin) + ")");
    pos = s.end;
    prev = &name;
  }
  if (pos != data_size)
    throw CheckpointError(path + ": " + std::to_string(data_size - pos) +
                          " bytes after the last tensor are not covered by the header");
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto mapping = std::make_shared<const MappedFile>(path);
  uint64_t n = 0;
  const json header = read_header(*mapping, n);
  const uint64_t data_size = mapping->size() - 8 - n;
  const unsigned char* data = mapping->data() + 8 + n;

  SafetensorsFile file;
  file.path_ = path;
  std::vector<Span> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      file.metadata_ = read_metadata(it.value(), path);
      continue;
    }
    const std::string where = path + ": tensor '" + name + "'";
    TensorView view = view_of(name, it.value(), where);
    Span span = span_of(it.value(), view, data_size, where);
    span.index = file.tensors_.size();
    view.data = data + span.begin;
    view.nbytes = static_cast<size_t>(span.end - span.begin);
    view.owner = mapping;
    spans.push_back(span);
    file.index_[name] = file.tensors_.size();
    file.tensors_.push_back(std::move(view));
  }
  check_tiling(std::move(spans), file.tensors_, data_size, path);
  return file;
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

// ---------------------------------------------------------------- checkpoint folders

Checkpoint::Checkpoint(const Checkpoint& other) : dir_(other.dir_), files_(other.files_) { rebuild_index(); }

Checkpoint& Checkpoint::operator=(const Checkpoint& other) {
  if (this != &other) {
    dir_ = other.dir_;
    files_ = other.files_;
    rebuild_index();
  }
  return *this;
}

void Checkpoint::rebuild_index() {
  by_name_.clear();
  for (const SafetensorsFile& f : files_)
    for (const TensorView& t : f.tensors()) by_name_[t.name] = &t;
}

namespace {

// The index's weight_map: tensor names by shard, and each tensor's shard.
struct WeightMap {
  std::map<std::string, std::vector<std::string>> by_shard;
  std::map<std::string, std::string> shard_of;
};

WeightMap read_weight_map(const std::string& ipath) {
  const json index = parse_json_strict(read_text_file(ipath), ipath, "index");
  if (!index.is_object()) throw CheckpointError(ipath + ": not a JSON object");
  const auto wm = index.find("weight_map");
  if (wm == index.end() || !wm->is_object()) throw CheckpointError(ipath + ": missing or non-object weight_map");
  WeightMap out;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it.value().is_string())
      throw CheckpointError(ipath + ": tensor '" + it.key() + "': weight_map value is not a file name");
    const std::string shard = it.value().get<std::string>();
    const fs::path sp(shard);
    bool escapes = shard.empty() || sp.is_absolute();
    for (const fs::path& part : sp)
      if (part == "..") escapes = true;
    if (escapes)
      throw CheckpointError(ipath + ": tensor '" + it.key() + "': shard '" + shard +
                            "' is not a file name inside the folder");
    out.by_shard[shard].push_back(it.key());
    out.shard_of[it.key()] = shard;
  }
  if (out.by_shard.empty()) throw CheckpointError(ipath + ": weight_map is empty");
  return out;
}

// Each shard, in by_shard's order, holding every tensor the index maps to it.
std::vector<SafetensorsFile> open_shards(const std::string& dir, const std::string& ipath, const WeightMap& map) {
  std::vector<SafetensorsFile> files;
  std::error_code ec;
  for (const auto& [shard, names] : map.by_shard) {
    const fs::path sp = fs::path(dir) / shard;
    if (!fs::is_regular_file(sp, ec))
      throw CheckpointError(ipath + ": tensor '" + names.front() + "' is mapped to shard '" + shard +
                            "', which does not exist in " + dir);
    SafetensorsFile f = SafetensorsFile::open(sp.string());
    for (const std::string& name : names)
      if (!f.find(name))
        throw CheckpointError(ipath + ": tensor '" + name + "' is mapped to shard '" + shard +
                              "', which does not contain it (" + f.path() + ")");
    files.push_back(std::move(f));
  }
  return files;
}

// Every tensor of a shard is listed for that shard and is in no other shard.
void check_shard_contents(const std::vector<SafetensorsFile>& files, const WeightMap& map, const std::string& ipath) {
  std::map<std::string, std::string> seen;  // tensor -> shard holding it
  auto shard_it = map.by_shard.begin();
  for (const SafetensorsFile& f : files) {
    const std::string& shard = (shard_it++)->first;
    for (const TensorView& t : f.tensors()) {
      if (const auto s = seen.find(t.name); s != seen.end())
        throw CheckpointError(ipath + ": tensor '" + t.name + "' is in two shards, '" + s->second + "' and '" +
                              shard + "'");
      seen[t.name] = shard;
      const auto m = map.shard_of.find(t.name);
      if (m == map.shard_of.end())
        throw CheckpointError(ipath + ": tensor '" + t.name + "' is in shard '" + shard +
                              "' but the index does not list it");
      if (m->second != shard)
        throw CheckpointError(ipath + ": tensor '" + t.name + "' is in shard '" + shard +
                              "' but the index maps it to '" + m->second + "'");
    }
  }
}

}  // namespace

Checkpoint Checkpoint::open_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw CheckpointError(dir + ": not a folder");
  Checkpoint ck;
  ck.dir_ = dir;
  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(single, ec)) {
    ck.files_.push_back(SafetensorsFile::open(single.string()));
    ck.rebuild_index();
    return ck;
  }
  if (!fs::exists(index_path, ec))
    throw CheckpointError(dir + ": no model.safetensors or model.safetensors.index.json in the folder");
  const std::string ipath = index_path.string();
  const WeightMap map = read_weight_map(ipath);
  // First every mapped tensor in the shard the index names, then every
  // tensor of a shard listed for that shard and in no other shard.
  ck.files_ = open_shards(dir, ipath, map);
  check_shard_contents(ck.files_, map, ipath);
  ck.rebuild_index();
  return ck;
}

const TensorView* Checkpoint::find(const std::string& name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

const TensorView& Checkpoint::at(const std::string& name) const {
  if (const TensorView* t = find(name)) return *t;
  throw CheckpointError(dir_ + ": tensor '" + name + "' is not in the checkpoint");
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(by_name_.size());
  for (const auto& kv : by_name_) out.push_back(kv.first);
  return out;
}

// ---------------------------------------------------------------- writer

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorToWrite*> order;
  order.reserve(tensors.size());
  for (const TensorToWrite& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const TensorToWrite* a, const TensorToWrite* b) { return a->name < b->name; });

  json header = json::object();
  if (!metadata.empty()) {
    json m = json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = std::move(m);
  }
  uint64_t offset = 0;
  std::vector<ByteChunk> chunks;
  chunks.reserve(order.size() + 2);
  for (size_t i = 0; i < order.size(); ++i) {
    const TensorToWrite& t = *order[i];
    const std::string where = path + ": tensor '" + t.name + "'";
    if (t.name == "__metadata__") throw CheckpointError(where + ": the name is reserved by the format");
    if (i > 0 && order[i - 1]->name == t.name) throw CheckpointError(where + ": given twice");
    uint64_t expected = 0;
    if (!byte_length(t.shape, st_dtype_size(t.dtype), expected))
      throw CheckpointError(where + ": shape " + shape_text(t.shape) + " has a negative entry or overflows");
    if (expected != t.nbytes)
      throw CheckpointError(where + ": " + std::to_string(t.nbytes) + " bytes given but shape " +
                            shape_text(t.shape) + " of " + st_dtype_name(t.dtype) + " needs " +
                            std::to_string(expected));
    if (t.nbytes > 0 && t.data == nullptr) throw CheckpointError(where + ": no data");
    header[t.name] = {{"dtype", st_dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
    if (t.nbytes > 0) chunks.push_back({t.data, t.nbytes});
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    throw CheckpointError(path + ": cannot write the header (a tensor or metadata name is not valid UTF-8?): " +
                          e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char len[8];
  uint64_t n = text.size();
  for (unsigned char& b : len) {
    b = static_cast<unsigned char>(n & 0xFF);
    n >>= 8;
  }
  chunks.insert(chunks.begin(), {{len, sizeof len}, {text.data(), text.size()}});
  try {
    write_chunks_atomically(path, chunks);
  } catch (const AtomicWriteError& e) {
    throw CheckpointError(e.what());
  }
}

}  // namespace lr::driver
