// all_gather_records: ProcessGroup::allgather into the slices of one
// [W, rows, width] tensor. The list form, because Gloo and NCCL both serve it
// in LibTorch 1.13 and 2.x (_allgather_base is not everywhere).
#include "shard_gather.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

#include <vector>

namespace lr::torch_adapter::detail {

at::Tensor all_gather_records(c10d::ProcessGroup& group, const at::Tensor& mine) {
  TORCH_CHECK(mine.dim() == 2 && mine.is_contiguous(), "lightreasoner: internal: records must be contiguous [rows, width]");
  const int64_t world = group.getSize();
  at::Tensor all = at::empty({world, mine.size(0), mine.size(1)}, mine.options());
  std::vector<at::Tensor> input{mine};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int64_t w = 0; w < world; ++w) output[0].push_back(all.select(0, w));
  group.allgather(output, input)->wait();
  return all;
}

}  // namespace lr::torch_adapter::detail
