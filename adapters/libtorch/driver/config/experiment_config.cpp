// load_config / to_toml: one schema (visit_config) drives reading, key
// listing (for overrides) and writing, so the three never disagree.
#include "experiment_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

#ifndef LR_BUNDLED_DATA_DIR
#define LR_BUNDLED_DATA_DIR "bench/data"
#endif

namespace lr::driver {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();

// A check returns "" when the value is fine, else what is wrong.
using StrCheck = std::function<std::string(const std::string&)>;
using RealCheck = std::function<std::string(double)>;

std::string fmt_double(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

StrCheck one_of(std::vector<std::string> options) {
  return [options](const std::string& s) -> std::string {
    for (const auto& o : options)
      if (s == o) return "";
    std::string list;
    for (const auto& o : options) list += (list.empty() ? "\"" : ", \"") + o + "\"";
    return "must be one of " + list + " (got \"" + s + "\")";
  };
}

std::string nonempty(const std::string& s) { return s.empty() ? "must not be empty" : ""; }

std::string check_device(const std::string& s) {
  if (s == "cpu" || s == "cuda") return "";
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.find_first_not_of("0123456789", 5) == std::string::npos)
    return "";
  return "must be \"cpu\", \"cuda\" or \"cuda:N\" (got \"" + s + "\")";
}

RealCheck in_range(double lo, bool lo_open, double hi, bool hi_open) {
  return [=](double v) -> std::string {
    const bool ok_lo = lo_open ? v > lo : v >= lo;
    const bool ok_hi = hi_open ? v < hi : v <= hi;
    if (ok_lo && ok_hi) return "";
    std::string range = std::string(lo_open ? "(" : "[") + fmt_double(lo) + ", " +
                        (std::isinf(hi) ? std::string("inf") : fmt_double(hi)) + (hi_open ? ")" : "]");
    return "must be in " + range + " (got " + fmt_double(v) + ")";
  };
}
const double kInf = std::numeric_limits<double>::infinity();

// The bundled evaluation sets: name, file under the bundled data folder, fields.
struct BundledSet {
  const char* name;
  const char* rel_file;
  const char* question;
  const char* answer;
  const char* context;
  const char* choices;
};
const BundledSet kBundled[] = {
    {"gsm8k", "gsm8k/test.jsonl", "question", "answer", "", ""},
    {"svamp", "eval/svamp/test.jsonl", "Question", "Answer", "Body", ""},
    {"asdiv", "eval/asdiv/test.jsonl", "question", "answer", "body", ""},
    {"minerva_math", "eval/minerva_math/test.jsonl", "problem", "solution", "", ""},
    {"olympiadbench", "eval/olympiadbench/test.jsonl", "question", "final_answer", "", ""},
    {"mmlu_stem", "eval/mmlu_stem/test.jsonl", "question", "answer", "", "choices"},
};
const BundledSet* find_bundled(const std::string& name) {
  for (const auto& b : kBundled)
    if (name == b.name) return &b;
  return nullptr;
}
EvalDataset bundled_dataset(const BundledSet& b) {
  EvalDataset d;
  d.name = b.name;
  d.question_field = b.question;
  d.answer_field = b.answer;
  d.context_field = b.context;
  d.choices_field = b.choices;
  return d;
}

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date/time";
  }
}

// ---- the schema ------------------------------------------------------------
// V provides section(name, fn), str, integer, real, boolean, str_list,
// int_list and datasets.
template <class V>
void visit_config(ExperimentConfig& c, V& v) {
  v.section("run", [&] {
    v.str("out_dir", c.run.out_dir, nonempty);
    v.integer("seed", c.run.seed, 0, kMaxInt);
    v.str("device", c.run.device, check_device);
    v.str("dtype", c.run.dtype, one_of({"float32", "bfloat16"}));
  });
  v.section("models", [&] {
    v.str("expert", c.models.expert, nullptr);
    v.str("amateur", c.models.amateur, nullptr);
    v.boolean("make_tiny", c.models.make_tiny);
    v.section("tiny", [&] {
      auto& t = c.models.tiny;
      v.str("tokenizer", t.tokenizer, nullptr);
      v.integer("vocab", t.vocab, 0, int64_t{1} << 24);
      v.integer("expert_layers", t.expert_layers, 1, 256);
      v.integer("expert_hidden", t.expert_hidden, 2, int64_t{1} << 16);
      v.integer("amateur_layers", t.amateur_layers, 1, 256);
      v.integer("amateur_hidden", t.amateur_hidden, 2, int64_t{1} << 16);
      v.integer("heads", t.heads, 1, 1024);
      v.integer("kv_heads", t.kv_heads, 1, 1024);
      v.integer("expert_seed", t.expert_seed, 0, kMaxInt);
      v.integer("amateur_seed", t.amateur_seed, 0, kMaxInt);
    });
  });
  v.section("data", [&] {
    v.str("bundled_dir", c.data.bundled_dir, nullptr);
    v.str("train_file", c.data.train_file, nullptr);
    v.str("question_field", c.data.question_field, nonempty);
    v.str("answer_field", c.data.answer_field, nonempty);
    v.integer("num_problems", c.data.num_problems, 0, kMaxInt);
    v.boolean("shuffle", c.data.shuffle);
  });
  v.section("prompt", [&] {
    v.str("system", c.prompt.system, nullptr);
    v.str("template", c.prompt.templ, [](const std::string& s) -> std::string {
      return s.find("{question}") == std::string::npos ? "must contain {question}" : "";
    });
    v.str("eval_template_base", c.prompt.eval_template_base, [](const std::string& s) -> std::string {
      return s.find("{question}") == std::string::npos ? "must contain {question}" : "";
    });
  });
  v.section("sample", [&] {
    v.integer("max_new_tokens", c.sample.max_new_tokens, 1, int64_t{1} << 20);
    v.boolean("greedy", c.sample.greedy);
    v.real("temperature", c.sample.temperature, in_range(0, true, kInf, true));
    v.real("top_p", c.sample.top_p, in_range(0, true, 1, false));
    v.integer("batch_size", c.sample.batch_size, 1, int64_t{1} << 20);
    v.int_list("stop_ids", c.sample.stop_ids, 0, (int64_t{1} << 31) - 1);
    v.real("kl_threshold", c.sample.kl_threshold, in_range(0, false, kInf, true));
    v.real("beta", c.sample.beta, in_range(0, true, 1, false));
    v.integer("k", c.sample.k, 1, 1 << 16);
    v.integer("shared_vocab", c.sample.shared_vocab, 0, (int64_t{1} << 31) - 1);
  });
  v.section("lora", [&] {
    v.integer("r", c.lora.r, 1, 1 << 16);
    v.real("alpha", c.lora.alpha, in_range(0, true, kInf, true));
    v.real("dropout", c.lora.dropout, in_range(0, false, 1, true));
    v.str_list("target_modules", c.lora.target_modules, true);
  });
  v.section("train", [&] {
    v.real("lr", c.train.lr, in_range(0, true, kInf, true));
    v.real("weight_decay", c.train.weight_decay, in_range(0, false, kInf, true));
    v.real("adam_beta1", c.train.adam_beta1, in_range(0, false, 1, true));
    v.real("adam_beta2", c.train.adam_beta2, in_range(0, false, 1, true));
    v.real("adam_eps", c.train.adam_eps, in_range(0, true, kInf, true));
    v.integer("warmup_steps", c.train.warmup_steps, 0, kMaxInt);
    v.str("schedule", c.train.schedule, one_of({"linear", "constant"}));
    v.real("grad_clip", c.train.grad_clip, in_range(0, false, kInf, true));
    v.integer("batch_size", c.train.batch_size, 1, int64_t{1} << 20);
    v.integer("grad_accum", c.train.grad_accum, 1, int64_t{1} << 20);
    v.integer("updates", c.train.updates, 1, kMaxInt);
    v.integer("max_seq_len", c.train.max_seq_len, 2, int64_t{1} << 24);
    v.integer("checkpoint_every", c.train.checkpoint_every, 0, kMaxInt);
    v.boolean("packed", c.train.packed);
    v.boolean("export_merged", c.train.export_merged);
  });
  v.section("eval", [&] {
    v.datasets("datasets", c.eval.datasets);
    v.integer("max_new_tokens", c.eval.max_new_tokens, 1, int64_t{1} << 20);
    v.integer("batch_size", c.eval.batch_size, 1, int64_t{1} << 20);
    v.integer("limit", c.eval.limit, 0, kMaxInt);
    v.int_list("stop_ids", c.eval.stop_ids, 0, (int64_t{1} << 31) - 1);
    v.str_list("plain_stop_strings", c.eval.plain_stop_strings, false);
    v.str("base_prompt", c.eval.base_prompt, one_of({"plain", "cot"}));
    v.str("tuned_prompt", c.eval.tuned_prompt, one_of({"plain", "cot"}));
  });
  v.section("sft", [&] {
    v.boolean("enabled", c.sft.enabled);
    v.integer("max_new_tokens", c.sft.max_new_tokens, 1, int64_t{1} << 20);
    v.integer("num_problems", c.sft.num_problems, 0, kMaxInt);
    v.integer("batch_size", c.sft.batch_size, 1, int64_t{1} << 20);
    v.integer("grad_accum", c.sft.grad_accum, 1, int64_t{1} << 20);
    v.real("lr", c.sft.lr, in_range(0, true, kInf, true));
    v.integer("epochs", c.sft.epochs, 1, int64_t{1} << 20);
    v.integer("updates", c.sft.updates, 0, kMaxInt);
    v.integer("max_seq_len", c.sft.max_seq_len, 2, int64_t{1} << 24);
  });
  v.section("report", [&] { v.boolean("plots", c.report.plots); });
}

const char* const kDatasetKeys[] = {"name", "file", "question_field", "answer_field", "context_field",
                                    "choices_field"};

// ---- key lister (for overrides) ----------------------------------------------
struct KeyLister {
  std::vector<std::string> prefix;
  std::set<std::string> keys;
  std::set<std::string> string_keys;  // keys whose value is one string
  std::string dotted(const std::string& k) const {
    std::string s;
    for (const auto& p : prefix) s += p + ".";
    return s + k;
  }
  void section(const std::string& name, const std::function<void()>& fn) {
    prefix.push_back(name);
    fn();
    prefix.pop_back();
  }
  template <class... A>
  void str(const std::string& k, A&&...) {
    keys.insert(dotted(k));
    string_keys.insert(dotted(k));
  }
  template <class... A>
  void integer(const std::string& k, A&&...) { keys.insert(dotted(k)); }
  template <class... A>
  void real(const std::string& k, A&&...) { keys.insert(dotted(k)); }
  template <class... A>
  void boolean(const std::string& k, A&&...) { keys.insert(dotted(k)); }
  template <class... A>
  void str_list(const std::string& k, A&&...) { keys.insert(dotted(k)); }
  template <class... A>
  void int_list(const std::string& k, A&&...) { keys.insert(dotted(k)); }
  template <class... A>
  void datasets(const std::string& k, A&&...) { keys.insert(dotted(k)); }
};

const KeyLister& schema_keys() {
  static const KeyLister keys = [] {
    ExperimentConfig c;
    KeyLister l;
    visit_config(c, l);
    return l;
  }();
  return keys;
}

// " (did you mean x?)" when a known key is within edit distance 2 of key.
std::string did_you_mean(const std::string& key) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diag = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        const size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diag = up;
      }
    }
    return row[b.size()];
  };
  std::string best;
  size_t best_d = 3;
  std::set<std::string> candidates = schema_keys().keys;
  for (const char* section : {"run", "models", "models.tiny", "data", "prompt", "sample", "lora", "train", "eval",
                              "sft", "report"})
    candidates.insert(section);
  for (const auto& k : candidates) {
    const size_t d = distance(key, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best.empty() ? "" : " (did you mean " + best + "?)";
}

// ---- reader ----------------------------------------------------------------
class Reader {
 public:
  Reader(std::string file, const toml::table& root, std::set<std::string> overridden)
      : file_(std::move(file)), overridden_(std::move(overridden)) {
    tables_.push_back(&root);
  }

  std::vector<std::string> errors;

  void error(const std::string& key, const toml::node* node, const std::string& what) {
    std::string where = file_;
    bool from_set = false;
    for (const auto& o : overridden_)
      if (key == o || key.rfind(o + ".", 0) == 0 || key.rfind(o + "[", 0) == 0) from_set = true;
    if (from_set) {
      errors.push_back(where + ": " + key + " (from --set): " + what);
      return;
    }
    if (node && node->source().begin.line > 0) where += ":" + std::to_string(node->source().begin.line);
    errors.push_back(where + ": " + key + ": " + what);
  }

  std::string dotted(const std::string& k) const {
    std::string s;
    for (const auto& p : prefix_) s += p + ".";
    return s + k;
  }

  // Keys of the top-level table that are not sections.
  void finish_root() { check_unknown(*tables_.front(), ""); }

  void section(const std::string& name, const std::function<void()>& fn) {
    const toml::table* parent = tables_.back();
    const std::string key = dotted(name);
    known_.insert(key);
    const toml::node* node = parent ? parent->get(name) : nullptr;
    const toml::table* t = nullptr;
    if (node) {
      t = node->as_table();
      if (!t) error(key, node, std::string("expected a table, got ") + type_name(*node));
    }
    tables_.push_back(t);
    prefix_.push_back(name);
    fn();
    if (t) check_unknown(*t, key + ".");
    prefix_.pop_back();
    tables_.pop_back();
  }

  void str(const std::string& k, std::string& out, const StrCheck& check) {
    const toml::node* n = lookup(k);
    if (!n) return;
    if (!n->is_string()) return wrong(k, n, "a string");
    std::string v = n->as_string()->get();
    if (check) {
      const std::string bad = check(v);
      if (!bad.empty()) return error(dotted(k), n, bad);
    }
    out = std::move(v);
  }

  void integer(const std::string& k, int64_t& out, int64_t lo, int64_t hi) {
    const toml::node* n = lookup(k);
    if (!n) return;
    if (!n->is_integer()) return wrong(k, n, "an integer");
    const int64_t v = n->as_integer()->get();
    if (v < lo || v > hi) {
      std::string range = hi == kMaxInt ? ">= " + std::to_string(lo)
                                        : "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
      return error(dotted(k), n, "must be " + range + " (got " + std::to_string(v) + ")");
    }
    out = v;
  }

  void real(const std::string& k, double& out, const RealCheck& check) {
    const toml::node* n = lookup(k);
    if (!n) return;
    double v;
    if (n->is_floating_point())
      v = n->as_floating_point()->get();
    else if (n->is_integer())
      v = static_cast<double>(n->as_integer()->get());
    else
      return wrong(k, n, "a number");
    if (!std::isfinite(v)) return error(dotted(k), n, "must be finite (got " + fmt_double(v) + ")");
    const std::string bad = check(v);
    if (!bad.empty()) return error(dotted(k), n, bad);
    out = v;
  }

  void boolean(const std::string& k, bool& out) {
    const toml::node* n = lookup(k);
    if (!n) return;
    if (!n->is_boolean()) return wrong(k, n, "a boolean (true or false)");
    out = n->as_boolean()->get();
  }

  void str_list(const std::string& k, std::vector<std::string>& out, bool need_nonempty) {
    const toml::node* n = lookup(k);
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a) return wrong(k, n, "an array of strings");
    std::vector<std::string> v;
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      const std::string ek = dotted(k) + "[" + std::to_string(i) + "]";
      if (!e.is_string()) return error(ek, &e, std::string("expected a string, got ") + type_name(e));
      if (e.as_string()->get().empty()) return error(ek, &e, "must not be empty");
      v.push_back(e.as_string()->get());
    }
    if (need_nonempty && v.empty()) return error(dotted(k), n, "must not be empty");
    out = std::move(v);
  }

  void int_list(const std::string& k, std::vector<int64_t>& out, int64_t lo, int64_t hi) {
    const toml::node* n = lookup(k);
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a) return wrong(k, n, "an array of integers");
    std::vector<int64_t> v;
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      const std::string ek = dotted(k) + "[" + std::to_string(i) + "]";
      if (!e.is_integer()) return error(ek, &e, std::string("expected an integer, got ") + type_name(e));
      const int64_t x = e.as_integer()->get();
      if (x < lo || x > hi)
        return error(ek, &e,
                     "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] (got " +
                         std::to_string(x) + ")");
      v.push_back(x);
    }
    out = std::move(v);
  }

  void datasets(const std::string& k, std::vector<EvalDataset>& out) {
    const toml::node* n = lookup(k);
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a) return wrong(k, n, "an array of dataset names or {name, file, ...} tables");
    std::vector<EvalDataset> v;
    bool ok = true;
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      const std::string ek = dotted(k) + "[" + std::to_string(i) + "]";
      if (e.is_string()) {
        const std::string name = e.as_string()->get();
        const BundledSet* b = find_bundled(name);
        if (!b) {
          error(ek, &e, "unknown dataset \"" + name + "\" (bundled: " + bundled_list() +
                            "; or a table {name, file, question_field, answer_field})");
          ok = false;
          continue;
        }
        v.push_back(bundled_dataset(*b));
      } else if (const toml::table* t = e.as_table()) {
        EvalDataset d;
        const toml::node* name = t->get("name");
        if (!name || !name->is_string() || name->as_string()->get().empty()) {
          error(ek + ".name", name ? name : &e, "required: a non-empty string");
          ok = false;
          continue;
        }
        if (const BundledSet* b = find_bundled(name->as_string()->get())) d = bundled_dataset(*b);
        d.name = name->as_string()->get();
        std::string* fields[] = {nullptr, &d.file, &d.question_field, &d.answer_field, &d.context_field,
                                 &d.choices_field};
        for (auto&& [key, val] : *t) {
          const std::string ks(key.str());
          const std::string fk = ek + "." + ks;
          int idx = -1;
          for (int j = 0; j < 6; ++j)
            if (ks == kDatasetKeys[j]) idx = j;
          if (idx < 0) {
            error(fk, &val, "unknown key (known: name, file, question_field, answer_field, context_field, "
                            "choices_field)");
            ok = false;
            continue;
          }
          if (idx == 0) continue;
          if (!val.is_string()) {
            error(fk, &val, std::string("expected a string, got ") + type_name(val));
            ok = false;
            continue;
          }
          *fields[idx] = val.as_string()->get();
          if ((idx == 2 || idx == 3) && fields[idx]->empty()) {
            error(fk, &val, "must not be empty");
            ok = false;
          }
        }
        if (!find_bundled(d.name) && d.file.empty()) {
          error(ek + ".file", &e, "required for a dataset that is not bundled (\"" + d.name + "\")");
          ok = false;
        }
        if (!d.file.empty()) d.file = resolve_input(d.file);
        v.push_back(std::move(d));
      } else {
        error(ek, &e, std::string("expected a dataset name or a table, got ") + type_name(e));
        ok = false;
      }
    }
    std::set<std::string> names;
    for (const auto& d : v)
      if (!names.insert(d.name).second) {
        error(dotted(k), n, "dataset \"" + d.name + "\" listed twice");
        ok = false;
      }
    if (ok && v.empty()) {
      error(dotted(k), n, "must list at least one dataset");
      ok = false;
    }
    if (ok) out = std::move(v);
  }

  std::function<std::string(const std::string&)> resolve_input;

  const toml::node* node_at(const std::string& section, const std::string& key) const {
    const toml::node* s = tables_.front()->get(section);
    if (!s || !s->is_table()) return nullptr;
    return s->as_table()->get(key);
  }

 private:
  static std::string bundled_list() {
    std::string s;
    for (const auto& b : kBundled) s += (s.empty() ? "" : ", ") + std::string(b.name);
    return s;
  }
  const toml::node* lookup(const std::string& k) {
    known_.insert(dotted(k));
    const toml::table* t = tables_.back();
    return t ? t->get(k) : nullptr;
  }
  void wrong(const std::string& k, const toml::node* n, const std::string& expected) {
    error(dotted(k), n, "expected " + expected + ", got " + type_name(*n));
  }
  void check_unknown(const toml::table& t, const std::string& prefix) {
    for (auto&& [key, val] : t) {
      const std::string full = prefix + std::string(key.str());
      if (!known_.count(full)) error(full, &val, "unknown key" + did_you_mean(full));
    }
  }

  std::string file_;
  std::set<std::string> overridden_;
  std::vector<const toml::table*> tables_;
  std::vector<std::string> prefix_;
  std::set<std::string> known_;
};

// ---- writer ----------------------------------------------------------------
// Emits TOML in schema order: basic strings with escapes, shortest
// round-tripping floats, datasets as inline tables.
std::string toml_quote(const std::string& s) {
  std::string out = "\"";
  for (const unsigned char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (ch < 0x20 || ch == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", ch);
          out += buf;
        } else {
          out += static_cast<char>(ch);
        }
    }
  }
  return out + "\"";
}

std::string toml_double(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // 16 -> 16.0 (inf/nan never get here)
  return s;
}

struct Writer {
  std::ostringstream os;
  std::vector<std::string> prefix;
  void section(const std::string& name, const std::function<void()>& fn) {
    prefix.push_back(name);
    std::string dotted;
    for (const auto& p : prefix) dotted += (dotted.empty() ? "" : ".") + p;
    os << "\n[" << dotted << "]\n";
    fn();
    prefix.pop_back();
  }
  template <class... A>
  void str(const std::string& k, const std::string& v, A&&...) { os << k << " = " << toml_quote(v) << "\n"; }
  template <class... A>
  void integer(const std::string& k, int64_t v, A&&...) { os << k << " = " << v << "\n"; }
  template <class... A>
  void real(const std::string& k, double v, A&&...) { os << k << " = " << toml_double(v) << "\n"; }
  void boolean(const std::string& k, bool v) { os << k << " = " << (v ? "true" : "false") << "\n"; }
  template <class... A>
  void str_list(const std::string& k, const std::vector<std::string>& v, A&&...) {
    os << k << " = [";
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << toml_quote(v[i]);
    os << "]\n";
  }
  template <class... A>
  void int_list(const std::string& k, const std::vector<int64_t>& v, A&&...) {
    os << k << " = [";
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
    os << "]\n";
  }
  void datasets(const std::string& k, const std::vector<EvalDataset>& v) {
    os << k << " = [\n";
    for (const auto& d : v)
      os << "  { name = " << toml_quote(d.name) << ", file = " << toml_quote(d.file)
         << ", question_field = " << toml_quote(d.question_field) << ", answer_field = " << toml_quote(d.answer_field)
         << ", context_field = " << toml_quote(d.context_field) << ", choices_field = " << toml_quote(d.choices_field)
         << " },\n";
    os << "]\n";
  }
};

// ---- overrides ---------------------------------------------------------------
std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

bool valid_dotted_key(const std::string& k) {
  if (k.empty() || k.front() == '.' || k.back() == '.' || k.find("..") != std::string::npos) return false;
  return k.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") ==
         std::string::npos;
}

// Applies one "key=value" to root; returns the key.
std::string apply_override(const std::string& file, const std::string& text, toml::table& root) {
  const auto eq = text.find('=');
  if (eq == std::string::npos)
    throw ConfigError(file + ": --set \"" + text + "\": expected key=value (e.g. sample.kl_threshold=0.5)");
  const std::string key = trim(text.substr(0, eq));
  const std::string value = trim(text.substr(eq + 1));
  if (!valid_dotted_key(key))
    throw ConfigError(file + ": --set \"" + text + "\": \"" + key +
                      "\" is not a dotted key (e.g. sample.kl_threshold=0.5)");
  if (!schema_keys().keys.count(key))
    throw ConfigError(file + ": --set " + key + ": unknown key \"" + key + "\"" + did_you_mean(key));

  toml::table parsed;
  try {
    parsed = toml::parse("v = " + value);
  } catch (const toml::parse_error& e) {
    // A bare word is a string; something that looks like a TOML value but
    // does not parse is an error.
    if (value.empty() || std::string("\"'[{").find(value.front()) != std::string::npos ||
        value.find_first_of("\"'[]{}\n") != std::string::npos)
      throw ConfigError(file + ": --set " + key + ": cannot parse the value " + value + " (" +
                        std::string(e.description()) + ")");
    parsed = toml::table{};
    parsed.insert_or_assign("v", value);
  }
  if (parsed.size() != 1 || !parsed.get("v"))
    throw ConfigError(file + ": --set " + key + ": the value must be one TOML value (got " + value + ")");
  // A string key takes an unquoted value as text even when it reads as
  // another TOML type (run.out_dir=2024-01-01, prompt.system=true).
  if (schema_keys().string_keys.count(key) && !parsed.get("v")->is_string()) parsed.insert_or_assign("v", value);

  // Walk / create the sections, then put the value.
  toml::table* t = &root;
  std::string walked;
  size_t start = 0;
  for (;;) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (dot == std::string::npos) {
      parsed.get("v")->visit([&](auto&& node) { t->insert_or_assign(part, std::move(node)); });
      break;
    }
    walked += (walked.empty() ? "" : ".") + part;
    toml::node* n = t->get(part);
    if (!n) {
      t->insert_or_assign(part, toml::table{});
      n = t->get(part);
    }
    if (!n->is_table())
      throw ConfigError(file + ": --set " + key + ": " + walked + " is not a table in the file");
    t = n->as_table();
    start = dot + 1;
  }
  return key;
}

std::string default_bundled_dir() {
  if (const char* env = std::getenv("LR_DATA_DIR"); env && *env) return env;
  return LR_BUNDLED_DATA_DIR;
}

std::string absolute_normal(const fs::path& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  if (ec) a = p;
  return a.lexically_normal().string();
}

}  // namespace

const std::vector<std::string>& bundled_eval_datasets() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& b : kBundled) v.push_back(b.name);
    return v;
  }();
  return names;
}

bool operator==(const EvalDataset& a, const EvalDataset& b) {
  return std::tie(a.name, a.file, a.question_field, a.answer_field, a.context_field, a.choices_field) ==
         std::tie(b.name, b.file, b.question_field, b.answer_field, b.context_field, b.choices_field);
}

namespace {
// Compares through the schema: every visited field, in order.
struct Flattener {
  std::vector<std::string> out;
  void section(const std::string& name, const std::function<void()>& fn) {
    out.push_back("[" + name + "]");
    fn();
  }
  template <class... A>
  void str(const std::string& k, const std::string& v, A&&...) { out.push_back(k + "=s:" + v); }
  template <class... A>
  void integer(const std::string& k, int64_t v, A&&...) { out.push_back(k + "=i:" + std::to_string(v)); }
  template <class... A>
  void real(const std::string& k, double v, A&&...) {
    std::ostringstream os;
    os.precision(17);
    os << v;
    out.push_back(k + "=f:" + os.str());
  }
  void boolean(const std::string& k, bool v) { out.push_back(k + "=b:" + (v ? "1" : "0")); }
  template <class... A>
  void str_list(const std::string& k, const std::vector<std::string>& v, A&&...) {
    out.push_back(k + "=sl:" + std::to_string(v.size()));
    for (const auto& s : v) out.push_back(s);
  }
  template <class... A>
  void int_list(const std::string& k, const std::vector<int64_t>& v, A&&...) {
    out.push_back(k + "=il:" + std::to_string(v.size()));
    for (int64_t x : v) out.push_back(std::to_string(x));
  }
  void datasets(const std::string& k, const std::vector<EvalDataset>& v) {
    out.push_back(k + "=d:" + std::to_string(v.size()));
    for (const auto& d : v)
      for (const std::string* s : {&d.name, &d.file, &d.question_field, &d.answer_field, &d.context_field,
                                   &d.choices_field})
        out.push_back(*s);
  }
};
}  // namespace

bool operator==(const ExperimentConfig& a, const ExperimentConfig& b) {
  Flattener fa, fb;
  visit_config(const_cast<ExperimentConfig&>(a), fa);
  visit_config(const_cast<ExperimentConfig&>(b), fb);
  return fa.out == fb.out;
}

ExperimentConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw ConfigError(path + ": cannot read the config file (no such file)");

  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw ConfigError(path + ":" + std::to_string(e.source().begin.line) + ":" +
                      std::to_string(e.source().begin.column) + ": TOML syntax error: " +
                      std::string(e.description()));
  }

  std::set<std::string> overridden;
  for (const auto& o : overrides) overridden.insert(apply_override(path, o, root));

  const fs::path config_dir = fs::path(absolute_normal(path)).parent_path();
  ExperimentConfig c;
  c.source = absolute_normal(path);
  Reader reader(path, root, overridden);
  reader.resolve_input = [&](const std::string& p) { return absolute_normal(config_dir / fs::path(p)); };
  visit_config(c, reader);
  reader.finish_root();

  // Cross-field checks.
  const auto& t = c.models.tiny;
  if (t.heads > 0 && t.kv_heads > 0 && t.heads % t.kv_heads != 0)
    reader.error("models.tiny.kv_heads", reader.node_at("models", "tiny"), "must divide models.tiny.heads");
  if (t.heads > 0 && (t.expert_hidden % t.heads != 0 || t.amateur_hidden % t.heads != 0))
    reader.error("models.tiny.heads", reader.node_at("models", "tiny"),
                 "must divide models.tiny.expert_hidden and models.tiny.amateur_hidden");
  if (!c.models.make_tiny) {
    if (c.models.expert.empty())
      reader.error("models.expert", reader.node_at("models", "expert"),
                   "required: the expert's Hugging Face folder (or models.make_tiny = true)");
    if (c.models.amateur.empty())
      reader.error("models.amateur", reader.node_at("models", "amateur"),
                   "required: the amateur's Hugging Face folder (or models.make_tiny = true)");
  }
  if (c.train.warmup_steps > c.train.updates)
    reader.error("train.warmup_steps", reader.node_at("train", "warmup_steps"),
                 "must not exceed train.updates (" + std::to_string(c.train.updates) + ")");

  if (!reader.errors.empty()) {
    std::string msg;
    for (const auto& e : reader.errors) msg += (msg.empty() ? "" : "\n") + e;
    throw ConfigError(msg);
  }

  // Paths: inputs against the config's folder, out_dir against the working directory.
  c.run.out_dir = absolute_normal(c.run.out_dir);
  auto input = [&](std::string& p) {
    if (!p.empty()) p = absolute_normal(config_dir / fs::path(p));
  };
  input(c.models.expert);
  input(c.models.amateur);
  input(c.models.tiny.tokenizer);
  if (c.models.make_tiny) {
    if (c.models.expert.empty()) c.models.expert = absolute_normal(fs::path(c.run.out_dir) / "models/tiny-expert");
    if (c.models.amateur.empty())
      c.models.amateur = absolute_normal(fs::path(c.run.out_dir) / "models/tiny-amateur");
  }
  if (c.data.bundled_dir.empty())
    c.data.bundled_dir = absolute_normal(default_bundled_dir());
  else
    input(c.data.bundled_dir);
  if (c.data.train_file.empty())
    c.data.train_file = absolute_normal(fs::path(c.data.bundled_dir) / "gsm8k/train.jsonl");
  else
    input(c.data.train_file);
  for (auto& d : c.eval.datasets)
    if (d.file.empty()) {
      if (const BundledSet* b = find_bundled(d.name))
        d.file = absolute_normal(fs::path(c.data.bundled_dir) / b->rel_file);
    }
  return c;
}

std::string to_toml(const ExperimentConfig& config) {
  Writer w;
  w.os << "# The effective configuration of this run (every key, paths absolute),\n"
          "# written by lightreasoner";
  if (!config.source.empty()) w.os << " from " << config.source;
  w.os << ".\n# Load it again with --config.\n";
  visit_config(const_cast<ExperimentConfig&>(config), w);
  return w.os.str();
}

}  // namespace lr::driver
