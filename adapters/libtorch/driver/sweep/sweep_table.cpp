#include "sweep/sweep_table.h"

#include <set>

#include "sweep/sweep_stats.h"

namespace lr::driver {

namespace {

using ojson = nlohmann::ordered_json;

ojson optional_json(const std::optional<double>& v) { return v ? ojson(*v) : ojson(nullptr); }

ojson spread_json(const std::vector<double>& values) {
  const Spread s = spread_of(values);
  return {{"n", s.n}, {"mean", s.n ? ojson(s.mean) : ojson(nullptr)}, {"sd", optional_json(s.sd)}};
}

ojson accuracy_json(const VariantRuns& v, const std::string& dataset) {
  std::vector<double> values;
  ojson by_seed = ojson::object();
  for (const auto& [seed, datasets] : v.seeds) {
    auto d = datasets.find(dataset);
    if (d == datasets.end()) continue;
    values.push_back(d->second.accuracy);
    by_seed[std::to_string(seed)] = d->second.accuracy;
  }
  ojson j = spread_json(values);
  j["by_seed"] = by_seed;
  return j;
}

// Per seed the mean over datasets (seeds with every dataset), then their spread.
ojson average_json(const VariantRuns& v, const std::vector<std::string>& datasets) {
  std::vector<double> values;
  for (const auto& [seed, results] : v.seeds) {
    if (results.size() != datasets.size() || datasets.empty()) continue;
    double sum = 0;
    for (const auto& [name, r] : results) sum += r.accuracy;
    values.push_back(sum / double(datasets.size()));
  }
  return spread_json(values);
}

// a against b on one dataset, seed by seed over the seeds both have.
ojson paired_json(const VariantRuns& a, const VariantRuns& b, const std::string& dataset,
                  const std::vector<int64_t>& seeds) {
  std::vector<double> diffs;
  int64_t wins = 0, losses = 0;
  for (int64_t seed : seeds) {
    const DatasetResult* ra = result_at(a, seed, dataset);
    const DatasetResult* rb = result_at(b, seed, dataset);
    if (!ra || !rb) continue;
    diffs.push_back(ra->accuracy - rb->accuracy);
    for (const auto& [id, right] : ra->correct) {  // the problems both files graded
      auto other = rb->correct.find(id);
      if (other == rb->correct.end()) continue;
      wins += right && !other->second;
      losses += !right && other->second;
    }
  }
  const Paired p = paired_of(diffs, wins, losses);
  return {{"n", p.n},       {"mean", p.n ? ojson(p.mean) : ojson(nullptr)}, {"se", optional_json(p.se)},
          {"wins", p.wins}, {"losses", p.losses}, {"clear", clear_difference(p)}};
}

ojson comparisons_json(const VariantRuns& a, const VariantRuns& b, const std::vector<std::string>& datasets,
                       const std::vector<int64_t>& seeds) {
  ojson j = ojson::object();
  for (const auto& d : datasets) j[d] = paired_json(a, b, d, seeds);
  return j;
}

ojson row_json(const VariantRuns& v, const VariantRuns& base, const std::vector<std::string>& datasets,
               const std::vector<int64_t>& seeds) {
  ojson row = {{"variant", v.variant.name}, {"description", v.variant.description}, {"model", v.variant.row_model}};
  row["accuracy"] = ojson::object();
  for (const auto& d : datasets) row["accuracy"][d] = accuracy_json(v, d);
  row["average"] = average_json(v, datasets);
  const ojson& mine = row["average"]["mean"];
  const ojson theirs = average_json(base, datasets)["mean"];
  row["delta_vs_base"] = mine.is_null() || theirs.is_null() ? ojson(nullptr)
                                                            : ojson(mine.get<double>() - theirs.get<double>());
  if (v.variant.name != "base") row["vs_base"] = comparisons_json(v, base, datasets, seeds);
  row["notes"] = v.notes;
  return row;
}

const VariantRuns* find_runs(const std::vector<VariantRuns>& runs, const std::string& name) {
  for (const VariantRuns& v : runs)
    if (v.variant.name == name) return &v;
  return nullptr;
}

}  // namespace

ojson sweep_table_json(const ExperimentConfig& c, const std::vector<VariantRuns>& runs, const ojson& diagnostics) {
  std::vector<std::string> datasets;
  for (const EvalDataset& d : c.eval.datasets) datasets.push_back(d.name);
  const VariantRuns& base = runs.front();  // sweep_variants: base first
  ojson table = {{"unit", "accuracy in percent; differences in percentage points"},
                 {"datasets", datasets},
                 {"seeds", c.sweep.seeds}};
  table["rows"] = ojson::array();
  for (const VariantRuns& v : runs) table["rows"].push_back(row_json(v, base, datasets, c.sweep.seeds));
  const VariantRuns* lr = find_runs(runs, "lightreasoner");
  const VariantRuns* sft = find_runs(runs, "sft");
  table["lightreasoner_vs_sft"] = lr && sft ? comparisons_json(*lr, *sft, datasets, c.sweep.seeds) : ojson(nullptr);
  table["verdict"] = sweep_verdict(table);
  table["diagnostics"] = diagnostics;
  return table;
}

}  // namespace lr::driver
