// lr_distill_loss_backward: argument checks (including every target id and
// weight on the host; on CUDA the kernel checks them), then the CPU or CUDA
// kernel, then the reduction.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "distill_loss.h"
#include "tensor_checks.h"

#ifdef LR_WITH_CUDA
#include "cuda_kernels.h"
#endif

using namespace lr::capi;

namespace {

// Checks every target entry; returns the number of rows with at least one id.
int64_t check_target_entries(const lr::core::cpu::SparseTargets& t, int64_t n, int64_t v) {
  std::vector<int32_t> row_ids;
  row_ids.reserve(static_cast<size_t>(t.k));
  int64_t counted = 0;
  for (int64_t i = 0; i < n; ++i) {
    row_ids.clear();
    for (int64_t j = 0; j < t.k; ++j) {
      const int32_t id = t.ids(i, j);
      const float w = t.weights(i, j);
      const std::string at = "[" + std::to_string(i) + ", " + std::to_string(j) + "]";
      if (id < -1 || id >= v)
        invalid("target_ids" + at + " = " + std::to_string(id) + " is outside [-1, V = " + std::to_string(v) + ")");
      if (!std::isfinite(w) || w < 0.0f)
        invalid("target_weights" + at + " = " + std::to_string(w) + " must be finite and >= 0");
      if (id == -1 && w != 0.0f)
        invalid("target_weights" + at + " = " + std::to_string(w) + " but target_ids" + at +
                " is -1 (padding needs weight 0)");
      if (id >= 0) row_ids.push_back(id);
    }
    std::sort(row_ids.begin(), row_ids.end());
    const auto dup = std::adjacent_find(row_ids.begin(), row_ids.end());
    if (dup != row_ids.end())
      invalid("target_ids row " + std::to_string(i) + " has the id " + std::to_string(*dup) + " twice");
    counted += row_ids.empty() ? 0 : 1;
  }
  return counted;
}

}  // namespace

extern "C" LR_API lr_status lr_distill_loss_backward(const DLTensor* logits, const DLTensor* target_ids,
                                                     const DLTensor* target_weights, const lr_loss_params* params,
                                                     DLTensor* loss_out, DLTensor* grad_logits, void* stream) {
  return guarded("lr_distill_loss_backward", [&] {
    require_not_null(logits, "logits");
    require_not_null(target_ids, "target_ids");
    require_not_null(target_weights, "target_weights");
    require_not_null(loss_out, "loss_out");
    DeviceAgreement devices;
    devices.add("logits", logits);
    devices.add("target_ids", target_ids);
    devices.add("target_weights", target_weights);
    devices.add("loss_out", loss_out);
    if (grad_logits) devices.add("grad_logits", grad_logits);
    const Placement where = devices.require_supported();

    const lr_loss_params p = read_params(params, lr_loss_params_default(), "params");
    check_temperature(p.temperature, "params");
    // Read as an int: a caller's out-of-range enum value must not be loaded as the enum type.
    static_assert(sizeof(lr_reduction) == sizeof(int), "lr_reduction is an int-sized enum");
    int reduction = 0;
    std::memcpy(&reduction, &p.reduction, sizeof reduction);
    if (reduction != LR_REDUCTION_NONE && reduction != LR_REDUCTION_SUM && reduction != LR_REDUCTION_MEAN)
      invalid("params->reduction is " + std::to_string(reduction) + ", not an lr_reduction");
    if (!std::isfinite(p.grad_scale)) invalid("params->grad_scale must be finite");

    const lr::core::LogitsView z = check_logits(logits, "logits");
    const int64_t n = z.rows, v = z.cols;
    if (n > 0 && v == 0) invalid("logits has a vocabulary of size 0");
    lr::core::cpu::SparseTargets targets;
    targets.k = matrix_cols(target_ids, "target_ids");
    if (targets.k < 1) invalid("target_ids: K (its second dimension) must be >= 1, got " + std::to_string(targets.k));
    targets.ids = check_matrix<const int32_t>(target_ids, "target_ids", dl_int32(), n, targets.k, false);
    targets.weights = check_matrix<const float>(target_weights, "target_weights", dl_float32(), n, targets.k, false);

    lr::core::Strided1D<float> loss_rows{};
    float* loss_scalar = nullptr;
    if (reduction == LR_REDUCTION_NONE) loss_rows = check_vector<float>(loss_out, "loss_out", dl_float32(), n, true);
    else loss_scalar = check_scalar_output(loss_out, "loss_out");

    lr::core::MutLogitsView grad{};
    const bool in_place = grad_logits && same_view(grad_logits, logits);
    if (grad_logits) {
      const lr::core::LogitsView g = check_logits(grad_logits, "grad_logits", true);
      if (g.type != z.type) invalid("grad_logits must have the dtype of logits");
      if (g.rows != n || g.cols != v)
        invalid("grad_logits: expected shape [" + std::to_string(n) + ", " + std::to_string(v) + "], got [" +
                std::to_string(g.rows) + ", " + std::to_string(g.cols) + "]");
      grad = {const_cast<void*>(g.data), g.type, g.rows, g.cols, g.row_stride};
    }
    std::vector<ByteRange> outputs{byte_range(loss_out, "loss_out")};
    std::vector<ByteRange> inputs{byte_range(target_ids, "target_ids"), byte_range(target_weights, "target_weights")};
    if (grad_logits && !in_place &&
        ranges_overlap(byte_range(grad_logits, "grad_logits"), byte_range(logits, "logits")))
      invalid("grad_logits partly overlaps logits (pass logits itself for an in-place gradient)");
    if (!in_place) inputs.push_back(byte_range(logits, "logits"));
    if (grad_logits) outputs.push_back(byte_range(grad_logits, "grad_logits"));
    check_no_aliasing(outputs, inputs);

#ifdef LR_WITH_CUDA
    if (where.cuda) {
      check_cuda_target_slots(targets.k, "target_ids");
      lr::core::cuda::LossJob job;
      job.logits = z;
      job.k = targets.k;
      job.ids = targets.ids;
      job.weights = targets.weights;
      job.reduction = reduction == LR_REDUCTION_NONE  ? lr::core::cuda::LossReduction::None
                      : reduction == LR_REDUCTION_SUM ? lr::core::cuda::LossReduction::Sum
                                                      : lr::core::cuda::LossReduction::Mean;
      job.grad_scale = p.grad_scale;
      job.temperature = p.temperature;
      job.loss_rows = loss_rows;
      job.loss_scalar = loss_scalar;
      job.grad = grad;
      lr::core::cuda::DeviceScope scope(where.device);
      lr::core::cuda::launch_distill_loss(job, stream);
      return;
    }
#endif
    (void)stream;
    (void)where;
    const int64_t counted = check_target_entries(targets, n, v);
    const double divisor = reduction == LR_REDUCTION_MEAN && counted > 0 ? double(counted) : 1.0;
    lr::core::cpu::LossSettings settings;
    settings.temperature = p.temperature;
    settings.grad_coef = double(p.grad_scale) / divisor;

    std::vector<double> row_loss(static_cast<size_t>(n));
    if (n > 0) lr::core::cpu::distill_loss_backward(z, targets, settings, row_loss.data(), grad);
    if (reduction == LR_REDUCTION_NONE) {
      for (int64_t i = 0; i < n; ++i) loss_rows[i] = static_cast<float>(row_loss[static_cast<size_t>(i)]);
    } else {
      double total = 0.0;  // in row order: the same result for any thread count
      for (double l : row_loss) total += l;
      *loss_scalar = static_cast<float>(reduction == LR_REDUCTION_MEAN ? (counted > 0 ? total / double(counted) : 0.0)
                                                                         : total);
    }
  });
}
