#include "agreement_check.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <string>

#include "lr_calls.h"
#include "torch_composites.h"

namespace lrbench {
namespace {

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

double max_abs(const at::Tensor& a) { return a.to(at::kDouble).abs().max().item<double>(); }

// Compares one set of targets; fills the counts, returns the max weight
// difference over rows whose ids agree.
struct TargetStats {
  std::string first_mismatch;  // one row where the ids differ, printed
  int64_t rows = 0;
  int64_t ids_equal = 0;      // same ids in the same order
  int64_t id_sets_equal = 0;  // same ids; order may differ among near-equal weights
  int64_t support_equal = 0;
  double weight_diff = 0;
};

TargetStats compare_targets(const at::Tensor& ids_a, const at::Tensor& w_a, const at::Tensor& s_a,
                            const at::Tensor& ids_b, const at::Tensor& w_b,
                            const at::Tensor& s_b) {
  TargetStats st;
  st.rows = ids_a.size(0);
  const at::Tensor same_ids = (ids_a == ids_b).all(-1);
  st.ids_equal = same_ids.sum().item<int64_t>();
  // Weights that tie in exact arithmetic may round apart differently on each
  // side (vectorised vs scalar exp), which swaps their order; compare as sets.
  const at::Tensor sorted_a = std::get<0>(ids_a.sort(-1));
  const at::Tensor sorted_b = std::get<0>(ids_b.sort(-1));
  st.id_sets_equal = (sorted_a == sorted_b).all(-1).sum().item<int64_t>();
  st.support_equal = (s_a == s_b).sum().item<int64_t>();
  if (st.ids_equal < st.rows) {
    const int64_t r = same_ids.logical_not().nonzero()[0][0].item<int64_t>();
    auto row = [&](const at::Tensor& ids, const at::Tensor& w) {
      std::ostringstream rs;
      rs << std::setprecision(7);
      for (int64_t j = 0; j < ids.size(1); ++j)
        rs << " " << ids[r][j].item<int>() << ":" << w[r][j].item<float>();
      return rs.str();
    };
    std::ostringstream os;
    os << std::setprecision(7) << "    first differing row " << r << " (support "
       << s_a[r].item<int>() << " vs " << s_b[r].item<int>() << ")\n      ours: "
       << row(ids_a, w_a) << "\n      torch:" << row(ids_b, w_b) << "\n";
    st.first_mismatch = os.str();
  }
  if (st.ids_equal > 0) {
    const at::Tensor sel = same_ids.nonzero().squeeze(1);
    st.weight_diff = max_abs_diff(w_a.index_select(0, sel), w_b.index_select(0, sel));
  }
  return st;
}

bool report(std::ostream& out, const char* what, bool ok) {
  out << "  [" << (ok ? " ok " : "FAIL") << "] " << what << "\n";
  return ok;
}

bool targets_ok(std::ostream& out, const char* what, const TargetStats& st) {
  // Rounding can move a token across the beta boundary or swap near-equal
  // weights in a few rows; the math is the same if almost all rows agree.
  const bool ok = st.id_sets_equal * 100 >= st.rows * 95 && st.support_equal * 100 >= st.rows * 95 &&
                  st.weight_diff <= 1e-4;
  out << "    ids equal " << st.ids_equal << "/" << st.rows << " (as sets " << st.id_sets_equal
      << "), support equal "
      << st.support_equal << "/" << st.rows << ", max |dw| on equal rows " << st.weight_diff
      << "\n" << st.first_mismatch;
  return report(out, what, ok);
}

}  // namespace

bool check_agreement(const LogitsPair& lg, const char* dtype_name, const CheckConfig& cfg,
                     std::ostream& out) {
  const int64_t n = lg.expert.size(0);
  const bool low_precision = lg.expert.scalar_type() != at::kFloat;
  bool ok = true;
  out << std::setprecision(4) << "agreement check, " << dtype_name << ", N=" << n
      << " V=" << lg.expert.size(1) << " K=" << cfg.k << " beta=" << cfg.beta
      << " kappa=" << cfg.kappa << "\n";

  // Selection.
  at::Tensor kl = at::empty({n}, at::kFloat), keep = at::empty({n}, at::kByte);
  lr_select(lg.expert, lg.amateur, cfg.kappa, kl, keep);
  const TorchSelect ts = torch_select(lg.expert, lg.amateur, cfg.kappa);
  const double kl_diff = max_abs_diff(kl, ts.kl);
  // The composite's float log_softmax carries ~1e-6 absolute error per term,
  // so tiny KLs are compared absolutely, large ones relatively.
  const double kl_rel = ((kl.to(at::kDouble) - ts.kl.to(at::kDouble)).abs() /
                         (ts.kl.to(at::kDouble).abs() * 1e-3 + 1e-4))
                            .max()
                            .item<double>();
  // Keep flags may differ only where KL is within rounding of kappa.
  const at::Tensor near = (ts.kl - cfg.kappa).abs() < 1e-3;
  const int64_t keep_mismatch =
      ((keep.to(at::kBool) != ts.keep).logical_and(near.logical_not())).sum().item<int64_t>();
  out << "    kl range [" << ts.kl.min().item<float>() << ", " << ts.kl.max().item<float>()
      << "], kept " << ts.keep.sum().item<int64_t>() << "/" << n << "; max |dkl| " << kl_diff
      << ", max |dkl|/(1e-4 + 1e-3|kl|) " << kl_rel << ", keep mismatches " << keep_mismatch << "\n";
  {
    // Which side is off: float64 KL of the row where the two differ most.
    const int64_t r = (kl - ts.kl).abs().argmax().item<int64_t>();
    const at::Tensor lp_e = lg.expert[r].to(at::kDouble).log_softmax(-1);
    const at::Tensor lp_a = lg.amateur[r].to(at::kDouble).log_softmax(-1);
    const double ref = (lp_e.exp() * (lp_e - lp_a)).sum().item<double>();
    out << "    worst row " << r << ": float64 KL " << std::setprecision(9) << ref
        << ", ours " << kl[r].item<float>() << ", torch " << ts.kl[r].item<float>()
        << std::setprecision(4) << "\n";
  }
  ok &= report(out, "select: kl and keep", kl_rel <= 1.0 && keep_mismatch == 0);

  // Targets for all rows.
  LrTargetsOut tg = alloc_targets(n, cfg.k);
  lr_targets(lg.expert, lg.amateur, cfg.beta, tg);
  const TorchTargets tt = torch_targets(lg.expert, lg.amateur, cfg.k, cfg.beta);
  out << "    support sizes (torch): min " << tt.support.min().item<int>() << ", max "
      << tt.support.max().item<int>() << ", rows with |M| > K "
      << (tt.support > cfg.k).sum().item<int64_t>() << "\n";
  ok &= targets_ok(out, "targets: ids, weights, support",
                   compare_targets(tg.ids, tg.weights, tg.support, tt.ids, tt.weights,
                                   tt.support));

  // Fused.
  at::Tensor fkl = at::empty({n}, at::kFloat), fkeep = at::empty({n}, at::kByte);
  LrTargetsOut ft = alloc_targets(n, cfg.k);
  lr_fused(lg.expert, lg.amateur, cfg.kappa, cfg.beta, fkl, fkeep, ft);
  const TorchFused tf = torch_select_and_build(lg.expert, lg.amateur, cfg.kappa, cfg.k, cfg.beta);
  const double fkl_diff = max_abs_diff(fkl, kl);
  const bool fkeep_same = fkeep.equal(keep);
  out << "    fused vs lr_select_steps: max |dkl| " << fkl_diff << ", keep identical "
      << (fkeep_same ? "yes" : "no") << "\n";
  ok &= report(out, "fused: kl/keep equal to lr_select_steps", fkl_diff <= 1e-5 && fkeep_same);
  ok &= targets_ok(out, "fused: targets vs torch composite",
                   compare_targets(ft.ids, ft.weights, ft.support, tf.targets.ids,
                                   tf.targets.weights, tf.targets.support));

  // Loss, on the composite's targets (identical inputs for both sides).
  const at::Tensor& ids = tt.ids;
  const at::Tensor& w = tt.weights;
  at::Tensor loss = at::zeros({1}, at::kFloat);
  at::Tensor grad = at::empty_like(lg.expert);
  lr_loss(lg.expert, ids, w, loss, grad);
  const TorchLoss tl = torch_loss_backward(lg.expert, ids, w);
  const double l_ref = tl.loss.item<double>();
  const double l_diff = std::abs(loss.item<double>() - l_ref);
  const double g_scale = max_abs(tl.grad);
  const double g_diff = max_abs_diff(grad, tl.grad);
  // bf16/fp16 gradients: each side rounds once; allow a couple of ulps.
  const double g_tol = (low_precision ? 2e-2 : 1e-4) * g_scale + 1e-9;
  out << "    loss ours " << std::setprecision(8) << loss.item<double>() << " torch " << l_ref
      << std::setprecision(4) << "; |dloss| " << l_diff << "; max|grad| " << g_scale
      << ", max |dgrad| " << g_diff << "\n";
  ok &= report(out, "loss backward (out of place)",
               l_diff <= 1e-4 * std::max(1.0, std::abs(l_ref)) && g_diff <= g_tol);

  at::Tensor inplace = lg.expert.clone();
  at::Tensor loss_ip = at::zeros({1}, at::kFloat);
  lr_loss(inplace, ids, w, loss_ip, inplace);
  const double ip_diff = max_abs_diff(inplace, grad);
  const double ipl_diff = std::abs(loss_ip.item<double>() - loss.item<double>());
  at::Tensor tinplace = lg.expert.clone();
  const double tip_diff = max_abs_diff(torch_loss_backward_inplace(tinplace, ids, w), tl.loss) +
                          max_abs_diff(tinplace, tl.grad);
  out << "    in place vs out of place: ours |dgrad| " << ip_diff << " |dloss| " << ipl_diff
      << "; torch " << tip_diff << "\n";
  ok &= report(out, "loss backward (in place)",
               ip_diff <= g_tol && ipl_diff <= 1e-6 && tip_diff <= g_tol);
  return ok;
}

}  // namespace lrbench
