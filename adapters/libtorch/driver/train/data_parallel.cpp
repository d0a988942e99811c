#include "train/data_parallel.h"

#include <stdexcept>
#include <string>

namespace lr::driver {

bool is_my_pass(int64_t pass, int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world)
    throw std::invalid_argument("rank " + std::to_string(rank) + " of " + std::to_string(world) + ": not a rank");
  return pass % world == rank;
}

torch::Tensor share_of_mean(const torch::Tensor& share_sum, int64_t micro_batch_units) {
  if (micro_batch_units < 1)
    throw std::invalid_argument("share_of_mean: a micro-batch of " + std::to_string(micro_batch_units) + " units");
  return share_sum / static_cast<double>(micro_batch_units);
}

}  // namespace lr::driver
