#include "tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "unicode.h"
#include "io/json_depth.h"
#include "io/whole_io.h"

namespace lr::driver {
namespace {

using json = nlohmann::json;

// Hugging Face's ByteLevel pre-tokenizer with use_regex = true splits with
// GPT-2's pattern before mapping bytes.
constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Words longer than this (in bytes) are not cached.
constexpr std::size_t kMaxCachedWordBytes = 256;
// The largest id a tokenizer.json may use: the id tables are sized by the
// largest id, so one token numbered 2^31 - 2 would ask for ~64 GB. Real
// vocabularies stay below 2^18.
constexpr std::int32_t kMaxTokenId = (1 << 22) - 1;
// The word cache is emptied when it holds this many words.
constexpr std::size_t kCacheCapacity = 1u << 16;

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves,
// the other 68 bytes for U+0100 onwards, in byte order.
std::array<char32_t, 256> bytes_to_unicode() {
  std::array<char32_t, 256> map{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    map[static_cast<std::size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
  }
  return map;
}

// Open-addressing map from a pair of symbol ids to (merge rank, merged id).
class MergeTable {
 public:
  struct Entry {
    std::uint64_t key;
    std::int32_t rank;
    std::int32_t merged;
  };
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};

  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slots_.assign(cap, Entry{kEmpty, 0, 0});
    mask_ = cap - 1;
  }
  static std::uint64_t key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
           static_cast<std::uint32_t>(b);
  }
  // Returns false when the pair is already present (the first rank wins).
  bool insert(std::int32_t a, std::int32_t b, std::int32_t rank, std::int32_t merged) {
    const std::uint64_t k = key(a, b);
    for (std::size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty) {
        slots_[i] = Entry{k, rank, merged};
        return true;
      }
      if (slots_[i].key == k) return false;
    }
  }
  const Entry* find(std::int32_t a, std::int32_t b) const {
    const std::uint64_t k = key(a, b);
    for (std::size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == k) return &slots_[i];
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static std::size_t hash(std::uint64_t k) {
    k ^= k >> 31;
    k *= 0x9E3779B97F4A7C15ULL;
    k ^= k >> 29;
    return static_cast<std::size_t>(k);
  }
  std::vector<Entry> slots_;
  std::size_t mask_ = 0;
};

struct CodeDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};
using MatchData = std::unique_ptr<pcre2_match_data, MatchDataDeleter>;

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

struct SplitRegex {
  std::unique_ptr<pcre2_code, CodeDeleter> code;
  bool jit = false;
};

struct AddedToken {
  std::string content;
  std::int32_t id = 0;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
};

std::string read_file(const std::string& path, const char* what) {
  std::string text;
  if (const int err = read_whole_file(path, text))
    throw TokenizerError(std::string("cannot read ") + what + " '" + path + "': " + std::strerror(err));
  return text;
}

json parse_json(const std::string& path, const char* what) {
  const std::string text = read_file(path, what);
  if (json_too_deep(text)) throw TokenizerError(path + ": " + json_too_deep_message());
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    throw TokenizerError(path + ": not valid JSON: " + e.what());
  }
}

bool get_bool(const json& obj, const char* key, bool dflt) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return dflt;
  return it->get<bool>();
}

std::string type_of(const json& obj) {
  auto it = obj.find("type");
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

bool empty_or_null_string(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() || (it->is_string() && it->get<std::string>().empty());
}

}  // namespace

struct Tokenizer::Impl {
  std::string path;  // tokenizer.json, for messages

  std::unordered_map<std::string, std::int32_t> vocab;   // byte-level form -> id
  std::vector<std::string> id_token;                     // id -> vocab form / added content
  std::vector<std::string> id_bytes;                     // id -> decoded bytes
  std::vector<std::uint8_t> id_known;                    // 1 when the id exists
  std::vector<std::uint8_t> id_special;                  // 1 for special added tokens
  std::array<std::int32_t, 256> byte_id{};               // byte -> id of its one-byte token
  std::array<char32_t, 256> byte_char{};                 // byte -> its byte-level character
  MergeTable merges;
  bool ignore_merges = false;

  std::vector<AddedToken> added;                          // in file order
  std::array<std::vector<std::size_t>, 256> added_by_first_byte;  // longest first
  bool nfc = false;
  std::vector<SplitRegex> splits;

  std::optional<std::int32_t> eos, pad, bos;

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<std::int32_t>> cache;

  [[noreturn]] void fail(const std::string& what) const { throw TokenizerError(path + ": " + what); }

  void load(const json& root);
  void check_model(const json& model);
  std::int32_t load_vocab(const json& model);                       // the largest id
  std::int32_t load_added_tokens(const json& root, std::int32_t max_id);  // the largest id so far
  void build_id_tables(std::int32_t max_id);
  void load_merges(const json& model);
  void index_added_tokens();
  void load_normalizer(const json& n);
  bool load_pre_tokenizer(const json& p);  // true when it has a ByteLevel step
  void add_regex(const std::string& pattern, bool literal, const std::string& where);
  void load_config(const std::string& config_path);

  void encode_section(std::string_view text, std::vector<std::int32_t>& out,
                      std::vector<MatchData>& md) const;
  void split_level(std::size_t level, std::string_view text, std::vector<std::int32_t>& out,
                   std::vector<MatchData>& md) const;
  void encode_word(std::string_view word, std::vector<std::int32_t>& out) const;
  void bpe(std::string_view word, std::vector<std::int32_t>& out) const;
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

// ---------------------------------------------------------------- loading

void Tokenizer::Impl::add_regex(const std::string& pattern, bool literal, const std::string& where) {
  int err = 0;
  PCRE2_SIZE err_off = 0;
  std::uint32_t options = PCRE2_UTF | PCRE2_UCP;
  if (literal) options |= PCRE2_LITERAL;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   options, &err, &err_off, nullptr);
  if (code == nullptr) {
    fail(where + ": the regex does not compile (PCRE2 at offset " + std::to_string(err_off) +
         ": " + pcre2_message(err) + ")");
  }
  SplitRegex r;
  r.code.reset(code);
  // Without JIT support (some platforms) the interpreter gives the same matches.
  r.jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  splits.push_back(std::move(r));
}

void Tokenizer::Impl::load_normalizer(const json& n) {
  if (n.is_null()) return;
  const std::string type = type_of(n);
  if (type == "NFC") {
    nfc = true;
  } else if (type == "Sequence") {
    for (const json& sub : n.at("normalizers")) load_normalizer(sub);
  } else {
    fail("unsupported normalizer type '" + type + "' (supported: NFC, Sequence of NFC)");
  }
}

bool Tokenizer::Impl::load_pre_tokenizer(const json& p) {
  if (p.is_null()) return false;
  const std::string type = type_of(p);
  if (type == "Sequence") {
    bool byte_level = false;
    for (const json& sub : p.at("pretokenizers")) {
      if (byte_level) fail("pre_tokenizer: a step after ByteLevel is not supported");
      byte_level = load_pre_tokenizer(sub);
    }
    return byte_level;
  }
  if (type == "Split") {
    const json& pat = p.at("pattern");
    if (pat.contains("Regex")) {
      add_regex(pat.at("Regex").get<std::string>(), false, "pre_tokenizer Split");
    } else if (pat.contains("String")) {
      add_regex(pat.at("String").get<std::string>(), true, "pre_tokenizer Split");
    } else {
      fail("pre_tokenizer Split: pattern has neither \"Regex\" nor \"String\"");
    }
    const std::string behavior = p.value("behavior", std::string("Isolated"));
    if (behavior != "Isolated") {
      fail("pre_tokenizer Split: behavior '" + behavior + "' is not supported (only Isolated)");
    }
    if (get_bool(p, "invert", false)) fail("pre_tokenizer Split: invert = true is not supported");
    return false;
  }
  if (type == "ByteLevel") {
    if (get_bool(p, "add_prefix_space", false)) {
      fail("pre_tokenizer ByteLevel: add_prefix_space = true is not supported");
    }
    if (get_bool(p, "use_regex", true)) add_regex(kGpt2Pattern, false, "pre_tokenizer ByteLevel");
    return true;
  }
  fail("unsupported pre_tokenizer type '" + type + "' (supported: Sequence, Split, ByteLevel)");
}

void Tokenizer::Impl::check_model(const json& model) {
  const std::string mtype = type_of(model);
  if (!mtype.empty() && mtype != "BPE") {
    fail("unsupported model type '" + mtype + "' (only byte-level BPE is supported)");
  }
  if (model.contains("dropout") && !model.at("dropout").is_null() &&
      model.at("dropout").get<double>() != 0.0) {
    fail("model.dropout is set: BPE dropout is not supported");
  }
  if (!empty_or_null_string(model, "continuing_subword_prefix") ||
      !empty_or_null_string(model, "end_of_word_suffix")) {
    fail("model: continuing_subword_prefix / end_of_word_suffix are not supported");
  }
  ignore_merges = get_bool(model, "ignore_merges", false);
}

std::int32_t Tokenizer::Impl::load_vocab(const json& model) {
  std::int32_t max_id = -1;
  if (!model.contains("vocab") || !model.at("vocab").is_object()) fail("model.vocab is not an object");
  vocab.reserve(model.at("vocab").size() * 2);
  std::unordered_set<std::int32_t> ids_seen;
  for (const auto& [token, idj] : model.at("vocab").items()) {
    if (!idj.is_number_integer() || idj.get<std::int64_t>() < 0 || idj.get<std::int64_t>() > kMaxTokenId) {
      fail("model.vocab: id of '" + token + "' is not an integer in [0, " + std::to_string(kMaxTokenId) + "]");
    }
    const auto id = idj.get<std::int32_t>();
    if (!ids_seen.insert(id).second) fail("model.vocab: id " + std::to_string(id) + " is given to two tokens");
    vocab.emplace(token, id);
    max_id = std::max(max_id, id);
  }
  return max_id;
}

std::int32_t Tokenizer::Impl::load_added_tokens(const json& root, std::int32_t max_id) {
  if (root.contains("added_tokens") && !root.at("added_tokens").is_null()) {
    for (const json& a : root.at("added_tokens")) {
      AddedToken t;
      t.content = a.at("content").get<std::string>();
      const json& id = a.at("id");
      const auto id64 = id.is_number_integer() ? id.get<std::int64_t>() : -1;  // a float's conversion may be undefined
      if (id64 < 0 || id64 > kMaxTokenId)
        fail("added_tokens: id of '" + t.content + "' is not an integer in [0, " + std::to_string(kMaxTokenId) + "]");
      t.id = static_cast<std::int32_t>(id64);
      if (t.content.empty()) fail("added_tokens: token " + std::to_string(t.id) + " has empty content");
      if (first_invalid_utf8(t.content)) fail("added_tokens: token " + std::to_string(t.id) + " is not UTF-8");
      t.special = get_bool(a, "special", false);
      t.lstrip = get_bool(a, "lstrip", false);
      t.rstrip = get_bool(a, "rstrip", false);
      if (get_bool(a, "single_word", false)) {
        fail("added_tokens: '" + t.content + "' has single_word = true, which is not supported");
      }
      max_id = std::max(max_id, t.id);
      added.push_back(std::move(t));
    }
  }
  return max_id;
}

// The tables by id: token text, bytes, known, special; and the byte tokens.
void Tokenizer::Impl::build_id_tables(std::int32_t max_id) {
  const std::size_t n_ids = static_cast<std::size_t>(max_id) + 1;
  id_token.assign(n_ids, std::string());
  id_bytes.assign(n_ids, std::string());
  id_known.assign(n_ids, 0);
  id_special.assign(n_ids, 0);

  byte_char = bytes_to_unicode();
  std::unordered_map<char32_t, unsigned char> char_byte;
  for (int b = 0; b < 256; ++b) char_byte[byte_char[static_cast<std::size_t>(b)]] = static_cast<unsigned char>(b);

  for (const auto& [token, id] : vocab) {
    const auto i = static_cast<std::size_t>(id);
    id_token[i] = token;
    id_known[i] = 1;
    // Back to bytes; a token with a character outside the byte map decodes
    // to its own UTF-8, as Hugging Face's ByteLevel decoder does.
    std::string bytes;
    bool mapped = first_invalid_utf8(token) == std::nullopt;
    for (std::size_t pos = 0; mapped && pos < token.size();) {
      char32_t cp = 0;
      pos += decode_utf8(token, pos, &cp);
      auto it = char_byte.find(cp);
      if (it == char_byte.end()) mapped = false;
      else bytes.push_back(static_cast<char>(it->second));
    }
    id_bytes[i] = mapped ? bytes : token;
  }
  for (const AddedToken& t : added) {
    const auto i = static_cast<std::size_t>(t.id);
    id_token[i] = t.content;
    id_bytes[i] = t.content;
    id_known[i] = 1;
    id_special[i] = t.special ? 1 : 0;
  }

  // Every byte must have its token, or byte-level BPE cannot encode all text.
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    append_utf8(ch, byte_char[static_cast<std::size_t>(b)]);
    auto it = vocab.find(ch);
    if (it == vocab.end()) {
      fail("model.vocab lacks the byte-level token for byte " + std::to_string(b) +
           ": not a byte-level BPE vocabulary");
    }
    byte_id[static_cast<std::size_t>(b)] = it->second;
  }
}

void Tokenizer::Impl::load_merges(const json& model) {
  // Merges, in either JSON form; rank = position in the list.
  if (!model.contains("merges") || !model.at("merges").is_array()) fail("model.merges is not an array");
  const json& mj = model.at("merges");
  merges.reserve(mj.size());
  std::int32_t rank = 0;
  for (const json& m : mj) {
    std::string a, b;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const auto sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        fail("model.merges[" + std::to_string(rank) + "] \"" + s + "\" is not two tokens separated by one space");
      }
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      fail("model.merges[" + std::to_string(rank) + "] is neither \"a b\" nor [\"a\", \"b\"]");
    }
    auto ia = vocab.find(a), ib = vocab.find(b), iab = vocab.find(a + b);
    if (ia == vocab.end() || ib == vocab.end() || iab == vocab.end()) {
      fail("model.merges[" + std::to_string(rank) + "] (\"" + a + "\", \"" + b +
           "\"): a token or their merge is not in the vocabulary");
    }
    merges.insert(ia->second, ib->second, rank, iab->second);
    ++rank;
  }
}

void Tokenizer::Impl::index_added_tokens() {
  // Added tokens by first byte, longest first (ties: file order).
  for (std::size_t k = 0; k < added.size(); ++k) {
    added_by_first_byte[static_cast<unsigned char>(added[k].content[0])].push_back(k);
  }
  for (auto& bucket : added_by_first_byte) {
    std::stable_sort(bucket.begin(), bucket.end(), [&](std::size_t x, std::size_t y) {
      return added[x].content.size() > added[y].content.size();
    });
  }
}

void Tokenizer::Impl::load(const json& root) {
  if (!root.is_object()) fail("the top level is not a JSON object");
  if (!root.contains("model")) fail("no \"model\"");
  const json& model = root.at("model");
  check_model(model);
  const std::int32_t max_id = load_added_tokens(root, load_vocab(model));
  if (max_id < 0) fail("the vocabulary is empty");
  build_id_tables(max_id);
  load_merges(model);
  index_added_tokens();
  load_normalizer(root.contains("normalizer") ? root.at("normalizer") : json());
  const bool byte_level = load_pre_tokenizer(root.contains("pre_tokenizer") ? root.at("pre_tokenizer") : json());
  if (!byte_level) fail("pre_tokenizer has no ByteLevel step: only byte-level BPE is supported");
  if (root.contains("decoder") && !root.at("decoder").is_null() && type_of(root.at("decoder")) != "ByteLevel") {
    fail("unsupported decoder type '" + type_of(root.at("decoder")) + "' (only ByteLevel)");
  }
}

void Tokenizer::Impl::load_config(const std::string& config_path) {
  const json cfg = parse_json(config_path, "tokenizer config");
  if (!cfg.is_object()) throw TokenizerError(config_path + ": the top level is not a JSON object");
  auto lookup = [&](const char* key) -> std::optional<std::int32_t> {
    auto it = cfg.find(key);
    if (it == cfg.end() || it->is_null()) return std::nullopt;
    std::string name;
    if (it->is_string()) {
      name = it->get<std::string>();
    } else if (it->is_object() && it->contains("content") && it->at("content").is_string()) {
      name = it->at("content").get<std::string>();
    } else {
      throw TokenizerError(config_path + ": " + key + " is neither a string nor {\"content\": ...}");
    }
    for (const AddedToken& t : added) {
      if (t.content == name) return t.id;
    }
    auto v = vocab.find(name);
    if (v != vocab.end()) return v->second;
    throw TokenizerError(config_path + ": " + key + " '" + name + "' is not a token of " + path);
  };
  eos = lookup("eos_token");
  pad = lookup("pad_token");
  bos = lookup("bos_token");
}

Tokenizer Tokenizer::from_file(const std::string& tokenizer_json_path,
                               const std::string& tokenizer_config_json_path) {
  auto impl = std::make_unique<Impl>();
  impl->path = tokenizer_json_path;
  const json root = parse_json(tokenizer_json_path, "tokenizer");
  try {
    impl->load(root);
  } catch (const json::exception& e) {
    impl->fail(std::string("unexpected structure: ") + e.what());
  }
  std::string config = tokenizer_config_json_path;
  if (config.empty()) {
    const auto slash = tokenizer_json_path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "" : tokenizer_json_path.substr(0, slash + 1);
    const std::string beside = dir + "tokenizer_config.json";
    if (std::ifstream(beside).good()) config = beside;
  }
  if (!config.empty()) {
    try {
      impl->load_config(config);
    } catch (const json::exception& e) {
      throw TokenizerError(config + ": unexpected structure: " + e.what());
    }
  }
  return Tokenizer(std::move(impl));
}

// ---------------------------------------------------------------- encoding

void Tokenizer::Impl::bpe(std::string_view word, std::vector<std::int32_t>& out) const {
  const std::size_t n = word.size();
  const auto* p = reinterpret_cast<const unsigned char*>(word.data());
  if (n == 1) {
    out.push_back(byte_id[p[0]]);
    return;
  }
  if (ignore_merges) {
    std::string form;
    for (std::size_t i = 0; i < n; ++i) append_utf8(form, byte_char[p[i]]);
    auto it = vocab.find(form);
    if (it != vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // Symbols as a linked list over the bytes; a merge keeps the left symbol.
  // The queue holds candidate merges ordered by (rank, position); a popped
  // candidate is stale when its symbols changed since it was pushed.
  struct Sym {
    std::int32_t id, prev, next;
  };
  struct Cand {
    std::int32_t rank, pos, merged;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Sym> sym(n);
  std::vector<Cand> heap_storage;
  heap_storage.reserve(n);
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> queue(std::greater<Cand>(),
                                                                          std::move(heap_storage));
  const auto count = static_cast<std::int32_t>(n);
  for (std::int32_t i = 0; i < count; ++i) {
    sym[static_cast<std::size_t>(i)] = Sym{byte_id[p[i]], i - 1, i + 1 < count ? i + 1 : -1};
  }
  for (std::int32_t i = 0; i + 1 < count; ++i) {
    if (const auto* e = merges.find(sym[static_cast<std::size_t>(i)].id, sym[static_cast<std::size_t>(i) + 1].id)) {
      queue.push(Cand{e->rank, i, e->merged});
    }
  }
  std::vector<std::uint8_t> dead(n, 0);
  while (!queue.empty()) {
    const Cand c = queue.top();
    queue.pop();
    const auto pos = static_cast<std::size_t>(c.pos);
    if (dead[pos] || sym[pos].next < 0) continue;
    const auto nx = static_cast<std::size_t>(sym[pos].next);
    const auto* e = merges.find(sym[pos].id, sym[nx].id);
    if (e == nullptr || e->merged != c.merged) continue;
    sym[pos].id = c.merged;
    dead[nx] = 1;
    sym[pos].next = sym[nx].next;
    if (sym[nx].next >= 0) sym[static_cast<std::size_t>(sym[nx].next)].prev = c.pos;
    if (sym[pos].prev >= 0) {
      const auto pv = static_cast<std::size_t>(sym[pos].prev);
      if (const auto* l = merges.find(sym[pv].id, sym[pos].id)) {
        queue.push(Cand{l->rank, sym[pos].prev, l->merged});
      }
    }
    if (sym[pos].next >= 0) {
      if (const auto* r = merges.find(sym[pos].id, sym[static_cast<std::size_t>(sym[pos].next)].id)) {
        queue.push(Cand{r->rank, c.pos, r->merged});
      }
    }
  }
  for (std::int32_t i = 0; i >= 0; i = sym[static_cast<std::size_t>(i)].next) {
    out.push_back(sym[static_cast<std::size_t>(i)].id);
  }
}

void Tokenizer::Impl::encode_word(std::string_view word, std::vector<std::int32_t>& out) const {
  if (word.size() == 1) {
    out.push_back(byte_id[static_cast<unsigned char>(word[0])]);
    return;
  }
  if (word.size() > kMaxCachedWordBytes) {
    bpe(word, out);
    return;
  }
  const std::string key(word);
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    auto it = cache.find(key);
    if (it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const std::size_t start = out.size();
  bpe(word, out);
  std::vector<std::int32_t> ids(out.begin() + static_cast<std::ptrdiff_t>(start), out.end());
  std::lock_guard<std::mutex> lock(cache_mutex);
  if (cache.size() >= kCacheCapacity) cache.clear();
  cache.emplace(key, std::move(ids));
}

void Tokenizer::Impl::split_level(std::size_t level, std::string_view text,
                                  std::vector<std::int32_t>& out, std::vector<MatchData>& md) const {
  if (text.empty()) return;
  if (level == splits.size()) {
    encode_word(text, out);
    return;
  }
  const SplitRegex& re = splits[level];
  pcre2_match_data* m = md[level].get();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const PCRE2_SIZE len = text.size();
  PCRE2_SIZE start = 0, emitted = 0;
  while (start < len) {
    int rc;
    if (re.jit) {
      rc = pcre2_jit_match(re.code.get(), subject, len, start, 0, m, nullptr);
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        rc = pcre2_match(re.code.get(), subject, len, start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, m, nullptr);
      }
    } else {
      rc = pcre2_match(re.code.get(), subject, len, start, PCRE2_NO_UTF_CHECK, m, nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw TokenizerError(path + ": pre-tokenizer regex failed: " + pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(m);
    const PCRE2_SIZE b = ov[0], e = ov[1];
    if (e == b) {  // an empty match splits nothing; step over one character
      char32_t cp = 0;
      start = b + decode_utf8(text, b, &cp);
      continue;
    }
    if (b > emitted) split_level(level + 1, text.substr(emitted, b - emitted), out, md);
    split_level(level + 1, text.substr(b, e - b), out, md);
    emitted = start = e;
  }
  if (emitted < len) split_level(level + 1, text.substr(emitted), out, md);
}

void Tokenizer::Impl::encode_section(std::string_view text, std::vector<std::int32_t>& out,
                                     std::vector<MatchData>& md) const {
  if (text.empty()) return;
  if (nfc) {
    const std::string normalised = lr::driver::nfc(text);
    split_level(0, normalised, out, md);
  } else {
    split_level(0, text, out, md);
  }
}

namespace {

std::string_view trim_whitespace(std::string_view s, bool left, bool right) {
  if (left) {
    std::size_t i = 0;
    while (i < s.size()) {
      char32_t cp = 0;
      const std::size_t l = decode_utf8(s, i, &cp);
      if (!is_unicode_whitespace(cp)) break;
      i += l;
    }
    s.remove_prefix(i);
  }
  if (right) {
    std::size_t end = s.size();
    while (end > 0) {
      std::size_t b = end - 1;
      while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
      char32_t cp = 0;
      decode_utf8(s, b, &cp);
      if (!is_unicode_whitespace(cp)) break;
      end = b;
    }
    s = s.substr(0, end);
  }
  return s;
}

}  // namespace

std::vector<std::int32_t> Tokenizer::encode(std::string_view utf8) const {
  const Impl& im = *impl_;
  if (auto bad = first_invalid_utf8(utf8)) {
    throw TokenizerError("encode: the text is not valid UTF-8 (byte offset " + std::to_string(*bad) + ")");
  }
  std::vector<MatchData> md;
  md.reserve(im.splits.size());
  for (const SplitRegex& re : im.splits) {
    md.emplace_back(pcre2_match_data_create_from_pattern(re.code.get(), nullptr));
    if (!md.back()) throw TokenizerError("encode: out of memory (PCRE2 match data)");
  }

  // Cut out the added tokens: at each position the longest one that matches.
  struct Piece {
    std::string_view text;
    const AddedToken* added;
  };
  std::vector<Piece> pieces;
  std::size_t last = 0;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto& bucket = im.added_by_first_byte[static_cast<unsigned char>(utf8[i])];
    const AddedToken* hit = nullptr;
    for (std::size_t k : bucket) {
      const std::string& c = im.added[k].content;
      if (utf8.compare(i, c.size(), c) == 0) {
        hit = &im.added[k];
        break;
      }
    }
    if (hit == nullptr) {
      ++i;
      continue;
    }
    if (i > last) pieces.push_back(Piece{utf8.substr(last, i - last), nullptr});
    pieces.push_back(Piece{std::string_view(), hit});
    i += hit->content.size();
    last = i;
  }
  if (last < utf8.size()) pieces.push_back(Piece{utf8.substr(last), nullptr});

  std::vector<std::int32_t> out;
  out.reserve(utf8.size() / 3 + 4);
  for (std::size_t k = 0; k < pieces.size(); ++k) {
    if (pieces[k].added != nullptr) {
      out.push_back(pieces[k].added->id);
      continue;
    }
    // lstrip / rstrip: an added token swallows the whitespace beside it.
    const bool strip_right = k + 1 < pieces.size() && pieces[k + 1].added && pieces[k + 1].added->lstrip;
    const bool strip_left = k > 0 && pieces[k - 1].added && pieces[k - 1].added->rstrip;
    im.encode_section(trim_whitespace(pieces[k].text, strip_left, strip_right), out, md);
  }
  return out;
}

std::vector<std::vector<std::int32_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts) const {
  std::vector<std::vector<std::int32_t>> out;
  out.reserve(texts.size());
  for (const std::string& t : texts) out.push_back(encode(t));
  return out;
}

// ---------------------------------------------------------------- decoding and lookups

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids, bool skip_special_tokens) const {
  const Impl& im = *impl_;
  std::string bytes;
  for (std::int32_t id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= im.id_known.size() || !im.id_known[static_cast<std::size_t>(id)]) {
      throw TokenizerError("decode: unknown token id " + std::to_string(id) + " (vocab_size " +
                           std::to_string(vocab_size()) + ")");
    }
    if (skip_special_tokens && im.id_special[static_cast<std::size_t>(id)]) continue;
    bytes += im.id_bytes[static_cast<std::size_t>(id)];
  }
  return utf8_lossy(bytes);
}

int32_t Tokenizer::vocab_size() const { return static_cast<std::int32_t>(impl_->id_known.size()); }

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  for (const AddedToken& t : impl_->added) {
    if (t.content == token) return t.id;
  }
  auto it = impl_->vocab.find(std::string(token));
  if (it == impl_->vocab.end()) return std::nullopt;
  return it->second;
}

std::string Tokenizer::id_to_token(int32_t id) const {
  const Impl& im = *impl_;
  if (id < 0 || static_cast<std::size_t>(id) >= im.id_known.size() || !im.id_known[static_cast<std::size_t>(id)]) {
    throw TokenizerError("id_to_token: unknown token id " + std::to_string(id));
  }
  return im.id_token[static_cast<std::size_t>(id)];
}

std::optional<int32_t> Tokenizer::eos_id() const { return impl_->eos; }
std::optional<int32_t> Tokenizer::pad_id() const { return impl_->pad; }
std::optional<int32_t> Tokenizer::bos_id() const { return impl_->bos; }

bool Tokenizer::is_special(int32_t id) const {
  const Impl& im = *impl_;
  return id >= 0 && static_cast<std::size_t>(id) < im.id_special.size() &&
         im.id_special[static_cast<std::size_t>(id)] != 0;
}

}  // namespace lr::driver
