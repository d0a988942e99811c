#include "logits_fixture.h"

namespace lrbench {

LogitsPair make_logits(int64_t rows, int64_t vocab, at::ScalarType dtype, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto opts = at::TensorOptions().dtype(at::kFloat);
  at::Tensor expert = at::randn({rows, vocab}, gen, opts).mul_(3.0);
  for (int64_t i = 0; i < rows; ++i) {
    at::Tensor row = expert[i];
    if (i % 8 == 0) {
      const int64_t tok = at::randint(vocab, {1}, gen, at::kLong).item<int64_t>();
      row[tok] += 20.0;
    } else if (i % 8 == 1) {
      const at::Tensor toks = at::randint(vocab, {3}, gen, at::kLong);
      row.index_add_(0, toks, at::full({3}, 11.0, opts));
    }
  }
  at::Tensor amateur = at::randn({rows, vocab}, gen, opts);
  for (int64_t i = 0; i < rows; ++i) {
    at::Tensor a = amateur[i];
    if (i % 3 == 0) {
      a.mul_(0.1).add_(expert[i]);
    } else {
      a.mul_(2.0).add_(expert[i], 0.7);
    }
  }
  return LogitsPair{expert.to(dtype).contiguous(), amateur.to(dtype).contiguous()};
}

}  // namespace lrbench
