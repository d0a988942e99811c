#include "distill_loss.h"

#include "distill_loss_row.h"
#include "thread_workspaces.h"

namespace lr::core::cpu {

void distill_loss_backward(const LogitsView& logits, const SparseTargets& targets,
                           const LossSettings& settings, double* row_loss, const MutLogitsView& grad) {
  ThreadWorkspaces<LossWorkspace> spaces(targets.k);
  const int64_t n_rows = logits.rows;
#pragma omp parallel for schedule(dynamic, 1) num_threads(spaces.threads())
  for (int64_t i = 0; i < n_rows; ++i) {
    void* g = grad.data ? grad.row(i) : nullptr;
    row_loss[i] = distill_loss_row(logits, targets, settings, i, g, grad.type, spaces.local());
  }
}

}  // namespace lr::core::cpu
