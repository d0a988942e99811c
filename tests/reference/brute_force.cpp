// Double-precision brute force of the three LightReasoner computations. See
// brute_force.h; every formula here is the header's, written the long way.
#include "reference/brute_force.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

namespace lrref {

bool is_data_fault(const Row& z, int64_t S) {
  bool all_neg_inf = true;
  for (int64_t i = 0; i < S; ++i) {
    const double x = z[static_cast<size_t>(i)];
    if (std::isnan(x) || x == kInf) return true;
    if (x != -kInf) all_neg_inf = false;
  }
  return all_neg_inf;
}

Row log_softmax(const Row& z, int64_t S, double T) {
  Row s(static_cast<size_t>(S));
  double m = -kInf;
  for (int64_t i = 0; i < S; ++i) {
    s[static_cast<size_t>(i)] = z[static_cast<size_t>(i)] / T;
    m = std::max(m, s[static_cast<size_t>(i)]);
  }
  long double sum = 0;
  for (double x : s) sum += std::exp(static_cast<long double>(x) - m);  // exp(-inf) = 0
  const double lse = m + static_cast<double>(std::log(sum));
  for (double& x : s) x = (x == -kInf) ? -kInf : x - lse;
  return s;
}

double kl(const Row& zE, const Row& zA, int64_t S, double T) {
  if (is_data_fault(zE, S) || is_data_fault(zA, S)) return kNaN;
  const Row lpE = log_softmax(zE, S, T);
  const Row lpA = log_softmax(zA, S, T);
  long double acc = 0;
  for (int64_t a = 0; a < S; ++a) {
    const double le = lpE[static_cast<size_t>(a)], la = lpA[static_cast<size_t>(a)];
    if (le == -kInf) continue;        // p_E(a) = 0: the term counts 0
    if (la == -kInf) return kInf;     // p_A(a) = 0 < p_E(a)
    acc += std::exp(static_cast<long double>(le)) * (static_cast<long double>(le) - la);
  }
  return static_cast<double>(acc);
}

Targets targets(const Row& zE, const Row& zA, int64_t S, double T, double beta, int64_t K) {
  Targets t;
  if (is_data_fault(zE, S) || is_data_fault(zA, S)) {
    t.fault = true;
    t.support_size = -1;
    return t;
  }
  double zmax = -kInf;
  for (int64_t a = 0; a < S; ++a) zmax = std::max(zmax, zE[static_cast<size_t>(a)]);
  const double log_beta = std::log(beta);
  for (int64_t a = 0; a < S; ++a)
    if ((zE[static_cast<size_t>(a)] - zmax) / T >= log_beta) t.support.push_back(static_cast<int32_t>(a));
  t.support_size = static_cast<int64_t>(t.support.size());

  // Truncation: the K ids of largest z_E (= largest p_E), ties lower id.
  std::vector<int32_t> kept = t.support;
  if (static_cast<int64_t>(kept.size()) > K) {
    std::stable_sort(kept.begin(), kept.end(), [&](int32_t x, int32_t y) {
      return zE[static_cast<size_t>(x)] > zE[static_cast<size_t>(y)];
    });  // stable over ascending ids: ties keep the lower id first
    kept.resize(static_cast<size_t>(K));
  }

  // Weights: softmax over the kept ids of c = log p_E - log p_A, which is
  // (z_E - z_A) / T up to a constant. If some kept id has p_A = 0, c = +Inf
  // there and v goes to those ids in proportion to p_E.
  std::vector<double> w(kept.size(), 0.0);
  std::vector<double> score(kept.size(), -kInf);
  for (size_t i = 0; i < kept.size(); ++i)
    if (zA[static_cast<size_t>(kept[i])] == -kInf) t.infinite_rule = true;
  for (size_t i = 0; i < kept.size(); ++i) {
    const double e = zE[static_cast<size_t>(kept[i])], a = zA[static_cast<size_t>(kept[i])];
    if (t.infinite_rule) score[i] = (a == -kInf) ? e / T : -kInf;
    else score[i] = (e - a) / T;
  }
  const double smax = *std::max_element(score.begin(), score.end());
  long double sum = 0;
  for (size_t i = 0; i < kept.size(); ++i) sum += std::exp(static_cast<long double>(score[i]) - smax);
  for (size_t i = 0; i < kept.size(); ++i)
    w[i] = static_cast<double>(std::exp(static_cast<long double>(score[i]) - smax) / sum);

  // Written order: descending weight, ties lower id.
  std::vector<size_t> order(kept.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    if (w[x] != w[y]) return w[x] > w[y];
    return kept[x] < kept[y];
  });
  for (size_t i : order) {
    t.ids.push_back(kept[i]);
    t.weights.push_back(w[i]);
  }
  return t;
}

LossRow loss_row(const Row& z, const std::vector<int32_t>& ids, const Row& v, double T) {
  LossRow r;
  const int64_t V = static_cast<int64_t>(z.size());
  r.grad.assign(z.size(), 0.0);
  for (int32_t id : ids) r.counted = r.counted || id != -1;
  // A padding row (all ids -1) is loss 0, gradient 0 whatever its logits
  // (the header says so: a padding row's logits are never looked at).
  if (!r.counted) return r;
  if (is_data_fault(z, V)) {
    r.fault = true;
    r.loss = kNaN;
    return r;
  }
  const Row lq = log_softmax(z, V, T);
  long double loss = 0, w = 0;
  Row vv(z.size(), 0.0);
  for (size_t k = 0; k < ids.size(); ++k) {
    if (ids[k] == -1) continue;
    const long double vk = v[k];
    w += vk;
    vv[static_cast<size_t>(ids[k])] += v[k];
    if (vk == 0) continue;  // 0 log 0 = 0, and 0 * log q = 0 even where q = 0
    loss += vk * std::log(vk) - vk * static_cast<long double>(lq[static_cast<size_t>(ids[k])]);
  }
  r.loss = static_cast<double>(loss);
  for (size_t a = 0; a < z.size(); ++a)
    r.grad[a] = static_cast<double>((w * std::exp(static_cast<long double>(lq[a])) - vv[a]) / T);
  return r;
}

LossBatch distill_loss(const std::vector<Row>& z, const std::vector<std::vector<int32_t>>& ids,
                       const std::vector<Row>& v, Reduction red, double grad_scale, double T) {
  LossBatch b;
  std::vector<LossRow> rows;
  for (size_t i = 0; i < z.size(); ++i) {
    rows.push_back(loss_row(z[i], ids[i], v[i], T));
    if (rows.back().counted) ++b.counted;
  }
  const double D = (red == Reduction::Mean) ? static_cast<double>(b.counted) : 1.0;
  long double total = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    b.row_loss.push_back(rows[i].loss);
    total += rows[i].loss;
    Row g = rows[i].grad;
    for (double& x : g) x = (D == 0) ? 0.0 : grad_scale * x / D;
    b.grad.push_back(std::move(g));
  }
  if (red == Reduction::Sum) b.reduced = static_cast<double>(total);
  if (red == Reduction::Mean) b.reduced = b.counted == 0 ? 0.0 : static_cast<double>(total) / D;
  return b;
}

}  // namespace lrref

namespace lrref::fx {

std::string check_targets(const std::vector<int32_t>& ids, const std::vector<double>& weights,
                          int64_t support, const Targets& ref, const Row& zE, const Row& zA,
                          int64_t S, double weight_atol) {
  std::ostringstream err;
  const size_t K = ids.size();
  auto dump = [&]() {
    std::ostringstream d;
    d << "\n  got support " << support << " ids/weights:";
    for (size_t k = 0; k < K; ++k) d << " " << ids[k] << ":" << weights[k];
    d << "\n  ref support " << ref.support_size << " ids/weights:";
    for (size_t k = 0; k < ref.ids.size(); ++k) d << " " << ref.ids[k] << ":" << ref.weights[k];
    return d.str();
  };
  if (ref.fault) {
    if (support != -1) err << "fault row: support_size " << support << " != -1. ";
    for (size_t k = 0; k < K; ++k)
      if (ids[k] != -1 || weights[k] != 0.0) { err << "fault row: entry " << k << " is not padding. "; break; }
    return err.str().empty() ? "" : err.str() + dump();
  }
  if (support != ref.support_size) err << "support_size " << support << " != " << ref.support_size << ". ";
  const size_t n = ref.ids.size();
  for (size_t k = n; k < K; ++k)
    if (ids[k] != -1 || weights[k] != 0.0) {
      err << "entry " << k << " should be padding (-1, 0). ";
      break;
    }
  std::map<int32_t, double> refw;
  for (size_t k = 0; k < n; ++k) refw[ref.ids[k]] = ref.weights[k];
  std::set<int32_t> seen;
  double sum = 0;
  for (size_t k = 0; k < n && k < K; ++k) {
    const int32_t id = ids[k];
    if (!refw.count(id)) { err << "entry " << k << ": id " << id << " not in the reference set. "; continue; }
    if (!seen.insert(id).second) err << "id " << id << " written twice. ";
    if (!(weights[k] >= 0) || !std::isfinite(weights[k])) err << "entry " << k << ": bad weight. ";
    if (!(std::fabs(weights[k] - refw[id]) <= weight_atol))
      err << "id " << id << ": weight " << weights[k] << " vs ref " << refw[id] << ". ";
    sum += weights[k];
    if (k + 1 < n && weights[k + 1] > weights[k]) err << "weights increase at entry " << k << ". ";
    if (id != ref.ids[k] && refw.count(id)) {
      const double a = refw[id], b = ref.weights[k];
      const bool near_tie = std::fabs(a - b) <= 1e-9 * std::max(a, b);
      const bool same_inputs = zE[static_cast<size_t>(id)] == zE[static_cast<size_t>(ref.ids[k])] &&
                               zA[static_cast<size_t>(id)] == zA[static_cast<size_t>(ref.ids[k])];
      if (!near_tie || same_inputs) err << "order: entry " << k << " is id " << id << ", ref " << ref.ids[k] << ". ";
    }
  }
  if (n > 0 && std::fabs(sum - 1.0) > 1e-5) err << "weights sum to " << sum << ". ";
  int32_t argmax = 0;
  for (int64_t a = 1; a < S; ++a)
    if (zE[static_cast<size_t>(a)] > zE[static_cast<size_t>(argmax)]) argmax = static_cast<int32_t>(a);
  if (std::find(ids.begin(), ids.end(), argmax) == ids.end()) err << "argmax " << argmax << " not written. ";
  return err.str().empty() ? "" : err.str() + dump();
}

}  // namespace lrref::fx
