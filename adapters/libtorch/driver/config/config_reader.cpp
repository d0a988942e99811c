#include "config_reader.h"

#include <cmath>
#include <utility>

#include "bundled_data.h"
#include "config_schema.h"
#include "schema_keys.h"

namespace lr::driver::config_internal {
namespace {

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

// Whether key is an overridden key or inside one (a table or list --set gave).
bool from_set(const std::string& key, const std::set<std::string>& overridden) {
  for (const auto& o : overridden)
    if (key == o || key.rfind(o + ".", 0) == 0 || key.rfind(o + "[", 0) == 0) return true;
  return false;
}

}  // namespace

ConfigReader::ConfigReader(std::string file, const toml::table& root, std::set<std::string> overridden,
                           std::function<std::string(const std::string&)> resolve_input)
    : file_(std::move(file)), overridden_(std::move(overridden)), resolve_input_(std::move(resolve_input)) {
  tables_.push_back(&root);
}

void ConfigReader::error(const std::string& key, const toml::node* node, const std::string& what) {
  if (errors.size() >= kMaxReportedConfigErrors) {
    ++unreported;
    return;
  }
  if (from_set(key, overridden_)) {
    errors.push_back(file_ + ": " + key + " (from --set): " + what);
    return;
  }
  std::string where = file_;
  if (node && node->source().begin.line > 0) where += ":" + std::to_string(node->source().begin.line);
  errors.push_back(where + ": " + key + ": " + what);
}

void ConfigReader::finish_root() { check_unknown(*tables_.front(), ""); }

const toml::node* ConfigReader::node_at(const std::string& section, const std::string& key) const {
  const toml::node* s = tables_.front()->get(section);
  if (!s || !s->is_table()) return nullptr;
  return s->as_table()->get(key);
}

std::string ConfigReader::dotted(const std::string& k) const {
  std::string s;
  for (const auto& p : prefix_) s += p + ".";
  return s + k;
}

const toml::node* ConfigReader::lookup(const std::string& k) {
  known_.insert(dotted(k));
  const toml::table* t = tables_.back();
  return t ? t->get(k) : nullptr;
}

void ConfigReader::wrong(const std::string& k, const toml::node* n, const std::string& expected) {
  error(dotted(k), n, "expected " + expected + ", got " + type_name(*n));
}

void ConfigReader::check_unknown(const toml::table& t, const std::string& prefix) {
  for (auto&& [key, val] : t) {
    const std::string full = prefix + std::string(key.str());
    if (known_.count(full)) continue;
    if (errors.size() >= kMaxReportedConfigErrors) ++unreported;  // no suggestion computed for it
    else error(full, &val, "unknown key" + did_you_mean(full));
  }
}

void ConfigReader::section(const std::string& name, const std::function<void()>& fn) {
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

void ConfigReader::str(const std::string& k, std::string& out, const StrCheck& check) {
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

void ConfigReader::integer(const std::string& k, int64_t& out, int64_t lo, int64_t hi) {
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

void ConfigReader::real(const std::string& k, double& out, const RealCheck& check) {
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

void ConfigReader::boolean(const std::string& k, bool& out) {
  const toml::node* n = lookup(k);
  if (!n) return;
  if (!n->is_boolean()) return wrong(k, n, "a boolean (true or false)");
  out = n->as_boolean()->get();
}

void ConfigReader::str_list(const std::string& k, std::vector<std::string>& out, bool need_nonempty) {
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

void ConfigReader::int_list(const std::string& k, std::vector<int64_t>& out, int64_t lo, int64_t hi) {
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
                   "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] (got " + std::to_string(x) +
                       ")");
    v.push_back(x);
  }
  out = std::move(v);
}

void ConfigReader::datasets(const std::string& k, std::vector<EvalDataset>& out) {
  const toml::node* n = lookup(k);
  if (!n) return;
  const toml::array* a = n->as_array();
  if (!a) return wrong(k, n, "an array of dataset names or {name, file, ...} tables");
  std::vector<EvalDataset> v;
  bool ok = true;
  for (size_t i = 0; i < a->size(); ++i)
    ok = read_dataset(dotted(k) + "[" + std::to_string(i) + "]", *a->get(i), v) && ok;
  ok = no_duplicate_datasets(k, n, v) && ok;
  if (ok && v.empty()) {
    error(dotted(k), n, "must list at least one dataset");
    ok = false;
  }
  if (ok) out = std::move(v);
}

bool ConfigReader::read_dataset(const std::string& ek, const toml::node& e, std::vector<EvalDataset>& out) {
  if (e.is_string()) {
    const std::string name = e.as_string()->get();
    const BundledSet* b = find_bundled(name);
    if (!b) {
      error(ek, &e, "unknown dataset \"" + name + "\" (bundled: " + bundled_names() +
                        "; or a table {name, file, question_field, answer_field})");
      return false;
    }
    out.push_back(bundled_dataset(*b));
    return true;
  }
  const toml::table* t = e.as_table();
  if (!t) {
    error(ek, &e, std::string("expected a dataset name or a table, got ") + type_name(e));
    return false;
  }
  const toml::node* name = t->get("name");
  if (!name || !name->is_string() || name->as_string()->get().empty()) {
    error(ek + ".name", name ? name : &e, "required: a non-empty string");
    return false;
  }
  EvalDataset d;
  if (const BundledSet* b = find_bundled(name->as_string()->get())) d = bundled_dataset(*b);
  d.name = name->as_string()->get();
  const bool ok = read_dataset_table(ek, e, *t, d);
  if (!d.file.empty()) d.file = resolve_input_(d.file);
  out.push_back(std::move(d));  // kept even after an error, for the duplicate check
  return ok;
}

// The table's fields over d (a bundled set's, or defaults); "name" is d's already.
bool ConfigReader::read_dataset_table(const std::string& ek, const toml::node& entry, const toml::table& t,
                                      EvalDataset& d) {
  bool ok = true;
  std::string* fields[] = {nullptr, &d.file, &d.question_field, &d.answer_field, &d.context_field, &d.choices_field};
  for (auto&& [key, val] : t) {
    const std::string ks(key.str());
    const std::string fk = ek + "." + ks;
    int idx = -1;
    for (int j = 0; j < 6; ++j)
      if (ks == kDatasetKeys[j]) idx = j;
    if (idx < 0) {
      error(fk, &val, "unknown key (known: name, file, question_field, answer_field, context_field, choices_field)");
      ok = false;
    } else if (idx > 0 && !val.is_string()) {
      error(fk, &val, std::string("expected a string, got ") + type_name(val));
      ok = false;
    } else if (idx > 0) {
      *fields[idx] = val.as_string()->get();
      if ((idx == 2 || idx == 3) && fields[idx]->empty()) {
        error(fk, &val, "must not be empty");
        ok = false;
      }
    }
  }
  if (!find_bundled(d.name) && d.file.empty()) {
    error(ek + ".file", &entry, "required for a dataset that is not bundled (\"" + d.name + "\")");
    ok = false;
  }
  return ok;
}

bool ConfigReader::no_duplicate_datasets(const std::string& k, const toml::node* n, const std::vector<EvalDataset>& v) {
  bool ok = true;
  std::set<std::string> names;
  for (const auto& d : v)
    if (!names.insert(d.name).second) {
      error(dotted(k), n, "dataset \"" + d.name + "\" listed twice");
      ok = false;
    }
  return ok;
}

}  // namespace lr::driver::config_internal
