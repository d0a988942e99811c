// lr_shard_target_candidates: argument checks, then the CPU or CUDA kernel.
#include <cmath>

#include "cpu/shard_kernels.h"
#include "tensor_checks.h"

#ifdef LR_WITH_CUDA
#include "cuda/shard_kernels.h"
#endif

using namespace lr::capi;

extern "C" LR_API lr_status lr_shard_target_candidates(const DLTensor* expert_shard, const DLTensor* amateur_shard,
                                                       const lr_vocab_shard* shard, const DLTensor* stats,
                                                       const DLTensor* rows, const lr_target_params* params,
                                                       DLTensor* candidates_out, void* stream) {
  return guarded("lr_shard_target_candidates", [&] {
    require_not_null(expert_shard, "expert_shard");
    require_not_null(amateur_shard, "amateur_shard");
    require_not_null(stats, "stats");
    require_not_null(candidates_out, "candidates_out");
    DeviceAgreement devices;
    devices.add("expert_shard", expert_shard);
    devices.add("amateur_shard", amateur_shard);
    devices.add("stats", stats);
    if (rows) devices.add("rows", rows);
    devices.add("candidates_out", candidates_out);
    const Placement where = devices.require_supported();

    const lr_target_params p = read_params(params, lr_target_params_default(), "params");
    check_temperature(p.temperature, "params");
    check_beta(p.beta, "params");
    const ShardPairInputs in = check_shard_pair(expert_shard, amateur_shard, shard, p.shared_vocab, "params");
    if (in.shared_vocab > lr::core::kMaxShardedSharedVocab)
      fail(LR_ERR_UNSUPPORTED, "params: shared_vocab = " + std::to_string(in.shared_vocab) +
                                   " exceeds 2^24, the largest id a float32 candidate record holds exactly");
    const int64_t n = in.expert.rows;
    const lr::core::GatheredRecords<double> gathered =
        check_gathered<double>(stats, "stats", dl_float64(), n, lr::core::SelectStatsField::width);
    lr::core::Strided1D<const int64_t> row_index{};
    int64_t m = n;
    if (rows) row_index = check_row_indices(rows, n, where.cuda, &m);
    const int64_t k = candidates_k_of(candidates_out, "candidates_out", 1);
    const lr::core::RecordRows<float> out = check_record_output<float>(
        candidates_out, "candidates_out", dl_float32(), m, lr::core::candidates_width(k));
    std::vector<ByteRange> inputs{in.expert_range, in.amateur_range, byte_range(stats, "stats")};
    if (rows) inputs.push_back(byte_range(rows, "rows"));
    check_no_aliasing({byte_range(candidates_out, "candidates_out")}, inputs);

#ifdef LR_WITH_CUDA
    if (where.cuda) {
      check_cuda_target_slots(k, "candidates_out");
      lr::core::cuda::ShardCandidatesJob job;
      job.expert = in.expert;
      job.amateur = in.amateur;
      job.cols = in.cols;
      job.stats = gathered;
      job.rows = row_index;
      job.out_rows = m;
      job.temperature = p.temperature;
      job.log_beta = std::log(double(p.beta));
      job.candidates = out;
      lr::core::cuda::DeviceScope scope(where.device);
      lr::core::cuda::launch_shard_target_candidates(job, stream);
      return;
    }
#endif
    (void)stream;
    if (m > 0)
      lr::core::cpu::shard_target_candidates(in.expert, in.amateur, in.cols, gathered, row_index, m, p.temperature,
                                             p.beta, out);
  });
}
