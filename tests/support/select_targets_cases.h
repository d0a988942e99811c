// The random cases the three select/targets suites (test_select_steps.cpp,
// test_build_targets.cpp, test_select_and_build.cpp) are built from: a
// case's logits shape and layout, the row kinds its random rows are drawn
// from, and the expert/amateur tensors it stores, next to the rows as stored
// (what the reference must be fed). Each suite adds its own parameters to
// LogitsCase and its own checks, and keeps its own KindPools, so that its
// seeds go on drawing the rows they were chosen for.
#pragma once

#include <lightreasoner/lightreasoner.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "reference/brute_force.h"
#include "support/host_tensor.h"

namespace lrtest {

// Shape, layout and row kinds of one case; the suites derive their cases
// from it and add the parameters of their own entry point.
struct LogitsCase {
  int64_t N = 16;
  int64_t Ve = 64, Va = 64;
  int64_t shared = 0;        // the shared_vocab parameter (0 = min(Ve, Va))
  float T = 1.0f;
  int64_t stride_extra = 0;  // > 0: rows are views into wider NaN-padded buffers
  bool null_strides = false;
  Dtype amateur_dtype = Dtype::I32;  // I32 = the expert's dtype
  std::vector<std::pair<lrref::fx::RowKind, lrref::fx::RowKind>> kinds;  // cycled over rows; empty = random pools
  uint32_t seed = 1;

  // The vocabulary the rows are compared over.
  int64_t S() const { return shared ? shared : std::min(Ve, Va); }
};

// The kinds random rows are drawn from. Experts come from the same seven
// kinds in every suite, amateurs from those plus Perturbed (small KL); how
// often Perturbed stands in the amateur pool and whether ambiguous pairs are
// redrawn stay each suite's choice, because its seeds were set with them.
struct KindPools {
  std::vector<lrref::fx::RowKind> expert, amateur;
  bool skip_ambiguous = true;  // redraw the pairs lrref::fx::ambiguous_pair names
};

inline KindPools kind_pools(int perturbed_copies, bool skip_ambiguous) {
  using lrref::fx::RowKind;
  KindPools p;
  p.expert = {RowKind::Normal, RowKind::Peaked,        RowKind::OneHot,   RowKind::Uniform,
              RowKind::Huge,   RowKind::NegInfEntries, RowKind::TiesAtMax};
  p.amateur = p.expert;
  p.amateur.insert(p.amateur.end(), static_cast<size_t>(perturbed_copies), RowKind::Perturbed);
  p.skip_ambiguous = skip_ambiguous;
  return p;
}

// Every (expert, amateur) pair of the pools in pool order, a repeated kind
// as often as it stands there (less the ambiguous pairs, when the pools
// skip them).
inline std::vector<std::pair<lrref::fx::RowKind, lrref::fx::RowKind>> every_kind_pair(const KindPools& p) {
  std::vector<std::pair<lrref::fx::RowKind, lrref::fx::RowKind>> pairs;
  for (lrref::fx::RowKind ke : p.expert)
    for (lrref::fx::RowKind ka : p.amateur)
      if (!p.skip_ambiguous || !lrref::fx::ambiguous_pair(ke, ka)) pairs.push_back({ke, ka});
  return pairs;
}

// A case's logits as handed to the library, and what the checks need
// beside them.
struct StoredCase {
  Dtype expert_dtype, amateur_dtype;
  int64_t S;
  std::vector<std::string> names;  // "expert kind/amateur kind" of each row
  HostTensor e, a;
  std::vector<lrref::Row> se, sa;  // the rows as stored (bf16/f16 rounding applied)
  std::mt19937 rng;                // where the row draws left it: later draws continue from here

  // "row i (kinds) dtype expert/amateur S=.. T=..", what a failure names.
  std::string row_context(int64_t i, float T) const {
    std::ostringstream s;
    s << "row " << i << " (" << names[static_cast<size_t>(i)] << ") dtype " << dtype_name(expert_dtype) << "/"
      << dtype_name(amateur_dtype) << " S=" << S << " T=" << T;
    return s.str();
  }
};

// Draws the rows of case c from its seed (its kinds cycled, or the pools),
// poisons the columns past S with NaN (the library must not read them) and
// stores them: the expert in dtype dt, the amateur in c.amateur_dtype.
inline StoredCase store_case(Dtype dt, const LogitsCase& c, const KindPools& pools) {
  using lrref::fx::RowKind;
  std::mt19937 g(c.seed);
  std::vector<lrref::Row> ze, za;
  std::vector<std::string> names;
  for (int64_t i = 0; i < c.N; ++i) {
    RowKind ke, ka;
    if (!c.kinds.empty()) {
      ke = c.kinds[static_cast<size_t>(i) % c.kinds.size()].first;
      ka = c.kinds[static_cast<size_t>(i) % c.kinds.size()].second;
    } else {
      do {
        ke = pools.expert[std::uniform_int_distribution<size_t>(0, pools.expert.size() - 1)(g)];
        ka = pools.amateur[std::uniform_int_distribution<size_t>(0, pools.amateur.size() - 1)(g)];
      } while (pools.skip_ambiguous && lrref::fx::ambiguous_pair(ke, ka));
    }
    ze.push_back(lrref::fx::make_row(ke, c.Ve, g));
    za.push_back(lrref::fx::make_amateur(ka, ze.back(), c.Va, g));
    names.push_back(std::string(lrref::fx::kind_name(ke)) + "/" + lrref::fx::kind_name(ka));
  }
  lrref::fx::poison_columns(ze, c.S());
  lrref::fx::poison_columns(za, c.S());
  const Dtype adt = c.amateur_dtype == Dtype::I32 ? dt : c.amateur_dtype;
  HostTensor e = lrref::fx::make_logits(dt, ze, c.Ve, c.stride_extra, c.null_strides);
  HostTensor a = lrref::fx::make_logits(adt, za, c.Va, c.stride_extra, c.null_strides);
  std::vector<lrref::Row> se = lrref::fx::read_rows(e), sa = lrref::fx::read_rows(a);
  return StoredCase{dt, adt, c.S(), std::move(names), std::move(e), std::move(a), std::move(se), std::move(sa), g};
}

// The parameters of the two select/targets entry points for case c.
inline lr_select_params select_params_for(const LogitsCase& c, float kappa) {
  lr_select_params p = lr_select_params_default();
  p.temperature = c.T;
  p.kl_threshold = kappa;
  p.shared_vocab = c.shared;
  return p;
}

inline lr_target_params target_params_for(const LogitsCase& c, float beta) {
  lr_target_params p = lr_target_params_default();
  p.temperature = c.T;
  p.beta = beta;
  p.shared_vocab = c.shared;
  return p;
}

}  // namespace lrtest
