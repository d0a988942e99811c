// Equality of configurations through the schema: every visited field, in
// order (ExperimentConfig::source, not a key, is not compared).
#include <functional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "config_schema.h"

namespace lr::driver {
namespace {

// The schema visitor that flattens every field to text (doubles with 17 digits).
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
      for (const std::string* s :
           {&d.name, &d.file, &d.question_field, &d.answer_field, &d.context_field, &d.choices_field})
        out.push_back(*s);
  }
};

std::vector<std::string> flattened(const ExperimentConfig& c) {
  Flattener f;
  config_internal::visit_config(const_cast<ExperimentConfig&>(c), f);
  return f.out;
}

}  // namespace

bool operator==(const EvalDataset& a, const EvalDataset& b) {
  return std::tie(a.name, a.file, a.question_field, a.answer_field, a.context_field, a.choices_field) ==
         std::tie(b.name, b.file, b.question_field, b.answer_field, b.context_field, b.choices_field);
}

bool operator==(const ExperimentConfig& a, const ExperimentConfig& b) { return flattened(a) == flattened(b); }

}  // namespace lr::driver
