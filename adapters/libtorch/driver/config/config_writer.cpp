// to_toml: the schema (config_schema.h) written out in its order, every key,
// so that load_config reads back an equal ExperimentConfig. Strings are basic
// TOML strings with escapes, floats the shortest text that round-trips,
// datasets inline tables.
#include <charconv>
#include <cstdio>
#include <functional>
#include <sstream>

#include "config_schema.h"

namespace lr::driver {
namespace {

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

// The schema visitor that writes.
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

}  // namespace

std::string to_toml(const ExperimentConfig& config) {
  Writer w;
  w.os << "# The effective configuration of this run (every key, paths absolute),\n"
          "# written by lightreasoner";
  if (!config.source.empty()) w.os << " from " << config.source;
  w.os << ".\n# Load it again with --config.\n";
  config_internal::visit_config(const_cast<ExperimentConfig&>(config), w);
  return w.os.str();
}

}  // namespace lr::driver
