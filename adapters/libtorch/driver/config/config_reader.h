// Reads a parsed TOML table into an ExperimentConfig through the schema
// (visit_config with a ConfigReader as the visitor). A key left out keeps its
// field's default; a wrong type, an out-of-range value or an unknown key is
// recorded as one error line naming the file, the TOML line and the dotted key
// (or "(from --set)" for a key an override gave), so that every problem is
// reported together.
#pragma once

#include <toml++/toml.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "config_checks.h"
#include "experiment_config.h"

namespace lr::driver::config_internal {

// The problems a ConfigError lists; more are counted, not kept (a file with a
// million unknown keys costs no million messages and suggestions).
inline constexpr size_t kMaxReportedConfigErrors = 20;

class ConfigReader {
 public:
  // overridden: the keys --set gave. resolve_input makes a dataset's file
  // path absolute (against the config's folder).
  ConfigReader(std::string file, const toml::table& root, std::set<std::string> overridden,
               std::function<std::string(const std::string&)> resolve_input);

  std::vector<std::string> errors;  // one line each, at most kMaxReportedConfigErrors
  size_t unreported = 0;             // problems found past those

  void error(const std::string& key, const toml::node* node, const std::string& what);
  // Keys of the top-level table that are not sections; call after visit_config.
  void finish_root();
  // The node of [section] key, for errors about it (nullptr when absent).
  const toml::node* node_at(const std::string& section, const std::string& key) const;

  // The schema visitor.
  void section(const std::string& name, const std::function<void()>& fn);
  void str(const std::string& k, std::string& out, const StrCheck& check);
  void integer(const std::string& k, int64_t& out, int64_t lo, int64_t hi);
  void real(const std::string& k, double& out, const RealCheck& check);
  void boolean(const std::string& k, bool& out);
  void str_list(const std::string& k, std::vector<std::string>& out, bool need_nonempty);
  void int_list(const std::string& k, std::vector<int64_t>& out, int64_t lo, int64_t hi);
  void datasets(const std::string& k, std::vector<EvalDataset>& out);

 private:
  std::string dotted(const std::string& k) const;
  const toml::node* lookup(const std::string& k);
  void wrong(const std::string& k, const toml::node* n, const std::string& expected);
  void check_unknown(const toml::table& t, const std::string& prefix);
  // One eval.datasets entry (ek: its dotted key); false after an error.
  bool read_dataset(const std::string& ek, const toml::node& entry, std::vector<EvalDataset>& out);
  bool read_dataset_table(const std::string& ek, const toml::node& entry, const toml::table& t, EvalDataset& d);
  bool no_duplicate_datasets(const std::string& k, const toml::node* n, const std::vector<EvalDataset>& v);

  std::string file_;
  std::set<std::string> overridden_;
  std::function<std::string(const std::string&)> resolve_input_;
  std::vector<const toml::table*> tables_;  // the open sections; nullptr for one absent from the file
  std::vector<std::string> prefix_;
  std::set<std::string> known_;  // dotted keys the schema asked for
};

}  // namespace lr::driver::config_internal
