#include "select_targets.h"

#include <cmath>
#include <limits>

#include "select_targets_row.h"
#include "thread_workspaces.h"

namespace lr::core::cpu {
namespace {

RowTargets row_targets(const TargetOutputs& out, int64_t j) {
  return {&out.ids(j, 0), out.ids.col_stride, &out.weights(j, 0), out.weights.col_stride};
}

// The KL a scanned row reports: NaN for a data fault.
float written_kl(const SelectTargetsRow& row) {
  const double kl = row.fault() ? std::numeric_limits<double>::quiet_NaN() : row.kl();
  return static_cast<float>(kl);
}

}  // namespace

void select_steps(const LogitsView& expert, const LogitsView& amateur, int64_t shared_vocab,
                  float temperature, float kl_threshold, const SelectOutputs& out) {
  SelectTargetsSettings settings{shared_vocab, temperature, 0.0, 0};
  ThreadWorkspaces<SelectTargetsRow> spaces(settings);
  const int64_t n = expert.rows;
#pragma omp parallel for schedule(dynamic, 1) num_threads(spaces.threads())
  for (int64_t i = 0; i < n; ++i) {
    SelectTargetsRow& row = spaces.local();
    row.scan(expert.row(i), expert.type, amateur.row(i), amateur.type, true, false);
    const float kl_f = written_kl(row);
    out.kl[i] = kl_f;
    // Decided on the value written, so keep == (kl_out > kappa) exactly; NaN gives 0.
    if (out.keep.data) out.keep[i] = kl_f > kl_threshold ? 1 : 0;
  }
}

void build_targets(const LogitsView& expert, const LogitsView& amateur, Strided1D<const int64_t> rows,
                   int64_t num_rows, int64_t shared_vocab, float temperature, float beta,
                   const TargetOutputs& out) {
  SelectTargetsSettings settings{shared_vocab, temperature, std::log(double(beta)), out.k};
  ThreadWorkspaces<SelectTargetsRow> spaces(settings);
#pragma omp parallel for schedule(dynamic, 1) num_threads(spaces.threads())
  for (int64_t j = 0; j < num_rows; ++j) {
    const int64_t i = rows.data ? rows[j] : j;
    SelectTargetsRow& row = spaces.local();
    row.scan(expert.row(i), expert.type, amateur.row(i), amateur.type, false, true);
    out.support_size[j] = row.write_targets(row_targets(out, j));
  }
}

void select_and_build(const LogitsView& expert, const LogitsView& amateur, int64_t shared_vocab,
                      float temperature, float kl_threshold, float beta, const SelectOutputs& sel,
                      const TargetOutputs& tgt) {
  SelectTargetsSettings settings{shared_vocab, temperature, std::log(double(beta)), tgt.k};
  ThreadWorkspaces<SelectTargetsRow> spaces(settings);
  const int64_t n = expert.rows;
#pragma omp parallel for schedule(dynamic, 1) num_threads(spaces.threads())
  for (int64_t i = 0; i < n; ++i) {
    SelectTargetsRow& row = spaces.local();
    row.scan(expert.row(i), expert.type, amateur.row(i), amateur.type, true, true);
    const float kl_f = written_kl(row);
    const bool keep = kl_f > kl_threshold;
    sel.kl[i] = kl_f;
    sel.keep[i] = keep ? 1 : 0;
    if (keep || row.fault()) {
      tgt.support_size[i] = row.write_targets(row_targets(tgt, i));
    } else {
      SelectTargetsRow::write_padding(row_targets(tgt, i), tgt.k);
      tgt.support_size[i] = 0;
    }
  }
}

}  // namespace lr::core::cpu
