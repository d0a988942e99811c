#include "schema_keys.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "config_schema.h"

namespace lr::driver::config_internal {
namespace {

// A schema visitor that only records names.
struct KeyLister {
  std::vector<std::string> prefix;
  SchemaKeys out;
  std::string dotted(const std::string& k) const {
    std::string s;
    for (const auto& p : prefix) s += p + ".";
    return s + k;
  }
  void section(const std::string& name, const std::function<void()>& fn) {
    out.sections.insert(dotted(name));
    prefix.push_back(name);
    fn();
    prefix.pop_back();
  }
  template <class... A>
  void str(const std::string& k, A&&...) {
    out.keys.insert(dotted(k));
    out.string_keys.insert(dotted(k));
  }
  template <class... A>
  void integer(const std::string& k, A&&...) { out.keys.insert(dotted(k)); }
  template <class... A>
  void real(const std::string& k, A&&...) { out.keys.insert(dotted(k)); }
  template <class... A>
  void boolean(const std::string& k, A&&...) { out.keys.insert(dotted(k)); }
  template <class... A>
  void str_list(const std::string& k, A&&...) { out.keys.insert(dotted(k)); }
  template <class... A>
  void int_list(const std::string& k, A&&...) { out.keys.insert(dotted(k)); }
  template <class... A>
  void datasets(const std::string& k, A&&...) { out.keys.insert(dotted(k)); }
};

size_t edit_distance(const std::string& a, const std::string& b) {
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
}

}  // namespace

const SchemaKeys& schema_keys() {
  static const SchemaKeys keys = [] {
    ExperimentConfig c;
    KeyLister l;
    visit_config(c, l);
    return l.out;
  }();
  return keys;
}

std::string did_you_mean(const std::string& key) {
  std::string best;
  size_t best_d = 3;
  std::set<std::string> candidates = schema_keys().keys;
  candidates.insert(schema_keys().sections.begin(), schema_keys().sections.end());
  for (const auto& k : candidates) {
    const size_t d = edit_distance(key, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best.empty() ? "" : " (did you mean " + best + "?)";
}

}  // namespace lr::driver::config_internal
