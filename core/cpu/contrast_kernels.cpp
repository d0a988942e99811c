#include "contrast_kernels.h"

#include <cmath>
#include <limits>

#include "contrast_row.h"
#include "thread_workspaces.h"

namespace lr::core::cpu {
namespace {

RowTargets row_targets(const TargetOutputs& out, int64_t j) {
  return {&out.ids(j, 0), out.ids.col_stride, &out.weights(j, 0), out.weights.col_stride};
}

}  // namespace

void select_steps(const LogitsView& expert, const LogitsView& amateur, int64_t shared_vocab,
                  float temperature, float kl_threshold, const SelectOutputs& out) {
  ContrastSettings settings{shared_vocab, temperature, 0.0, 0};
  ThreadWorkspaces<ContrastRowScanner> spaces(settings);
  const int64_t n = expert.rows;
#pragma omp parallel for schedule(dynamic, 1) num_threads(spaces.threads())
  for (int64_t i = 0; i < n; ++i) {
    ContrastRowScanner& scanner = spaces.local();
    scanner.scan(expert.row(i), expert.type, amateur.row(i), amateur.type, true, false);
    const double kl = scanner.fault() ? std::numeric_limits<double>::quiet_NaN() : scanner.kl();
    const float kl_f = static_cast<float>(kl);
    out.kl[i] = kl_f;
    // Decided on the value written, so keep == (kl_out > kappa) exactly; NaN gives 0.
    if (out.keep.data) out.keep[i] = kl_f > kl_threshold ? 1 : 0;
  }
}

void build_targets(const LogitsView& expert, const LogitsView& amateur, Strided1D<const int64_t> rows,
                   int64_t num_rows, int64_t shared_vocab, float temperature, float beta,
                   const TargetOutputs& out) {
  ContrastSettings settings{shared_vocab, temperature, std::log(double(beta)), out.k};
  ThreadWorkspaces<ContrastRowScanner> spaces(settings);
#pragma omp parallel for schedule(dynamic, 1) num_threads(spaces.threads())
  for (int64_t j = 0; j < num_rows; ++j) {
    const int64_t i = rows.data ? rows[j] : j;
    ContrastRowScanner& scanner = spaces.local();
    scanner.scan(expert.row(i), expert.type, amateur.row(i), amateur.type, false, true);
    out.support_size[j] = scanner.write_targets(row_targets(out, j));
  }
}

void select_and_build(const LogitsView& expert, const LogitsView& amateur, int64_t shared_vocab,
                      float temperature, float kl_threshold, float beta, const SelectOutputs& sel,
                      const TargetOutputs& tgt) {
  ContrastSettings settings{shared_vocab, temperature, std::log(double(beta)), tgt.k};
  ThreadWorkspaces<ContrastRowScanner> spaces(settings);
  const int64_t n = expert.rows;
#pragma omp parallel for schedule(dynamic, 1) num_threads(spaces.threads())
  for (int64_t i = 0; i < n; ++i) {
    ContrastRowScanner& scanner = spaces.local();
    scanner.scan(expert.row(i), expert.type, amateur.row(i), amateur.type, true, true);
    const double kl = scanner.fault() ? std::numeric_limits<double>::quiet_NaN() : scanner.kl();
    const float kl_f = static_cast<float>(kl);
    const bool keep = kl_f > kl_threshold;
    sel.kl[i] = kl_f;
    sel.keep[i] = keep ? 1 : 0;
    if (keep || scanner.fault()) {
      tgt.support_size[i] = scanner.write_targets(row_targets(tgt, i));
    } else {
      ContrastRowScanner::write_padding(row_targets(tgt, i), tgt.k);
      tgt.support_size[i] = 0;
    }
  }
}

}  // namespace lr::core::cpu
