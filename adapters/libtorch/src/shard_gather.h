// The one collective of the sharded calls: every rank's per-row records,
// stacked in rank order as the finish calls read them.
#pragma once

#include <ATen/core/Tensor.h>

namespace c10d {
class ProcessGroup;
}  // namespace c10d

namespace lr::torch_adapter::detail {

// mine: this rank's records, contiguous [rows, width] (the same shape and
// dtype on every rank). Returns [W, rows, width] on mine's device, slice w
// from rank w, via ProcessGroup::allgather (Gloo and NCCL both serve it; on
// CUDA, c10d orders it on the current stream). Blocks until the CPU result
// is there; on CUDA it only enqueues.
at::Tensor all_gather_records(c10d::ProcessGroup& group, const at::Tensor& mine);

}  // namespace lr::torch_adapter::detail
