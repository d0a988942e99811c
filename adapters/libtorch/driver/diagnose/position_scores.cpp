#include "diagnose/position_scores.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>

#include "lightreasoner/torch.h"

namespace lr::driver {

int64_t shared_vocab_of(const Qwen2Model& expert, const Qwen2Model& amateur, const Tokenizer& tokenizer) {
  const int64_t shared =
      std::min({expert.config().vocab_size, amateur.config().vocab_size, int64_t{tokenizer.vocab_size()}});
  if (shared < 1) throw std::invalid_argument("diagnose: no shared vocabulary");
  return shared;
}

std::vector<PositionScore> score_rows(const at::Tensor& le, const at::Tensor& la, const ContrastOptions& o) {
  lr::torch_adapter::SelectOptions sel;
  sel.kl_threshold = o.kl_threshold;
  sel.shared_vocab = o.shared_vocab;
  lr::torch_adapter::TargetOptions tgt;
  tgt.k = o.k;
  tgt.beta = o.beta;
  tgt.shared_vocab = o.shared_vocab;
  const auto selected = lr::torch_adapter::select_steps(le, la, sel);
  const auto targets = lr::torch_adapter::build_targets(le, la, std::nullopt, tgt);  // every row
  const at::Tensor kl = selected.kl.to(torch::kCPU).to(torch::kFloat64).contiguous();
  const at::Tensor keep = selected.keep.to(torch::kCPU).contiguous();
  const at::Tensor top = targets.ids.select(1, 0).to(torch::kCPU).to(torch::kInt64).contiguous();
  const at::Tensor support = targets.support_size.to(torch::kCPU).to(torch::kInt64).contiguous();
  const at::Tensor e_top = le.argmax(1).to(torch::kCPU).contiguous();
  const at::Tensor a_top = la.argmax(1).to(torch::kCPU).contiguous();
  std::vector<PositionScore> out(static_cast<size_t>(le.size(0)));
  for (size_t r = 0; r < out.size(); ++r) {
    out[r] = {kl.data_ptr<double>()[r],         keep.data_ptr<bool>()[r],     support.data_ptr<int64_t>()[r],
              top.data_ptr<int64_t>()[r],       e_top.data_ptr<int64_t>()[r], a_top.data_ptr<int64_t>()[r]};
  }
  return out;
}

namespace {

// The right-padded input [B, T], its mask, and the positions [B, P] (a
// shorter span repeats its last position; those rows are dropped later).
struct SpanBatch {
  at::Tensor ids, mask, positions;
  int64_t width = 1;  // P
};

SpanBatch batch_of(const std::vector<Span>& spans) {
  int64_t T = 1;
  SpanBatch b;
  for (const Span& s : spans) {
    if (s.count < 1 || s.first < 0 || s.first + s.count > static_cast<int64_t>(s.ids.size()))
      throw std::invalid_argument("diagnose: a span outside its sequence");
    T = std::max(T, s.first + s.count);
    b.width = std::max(b.width, s.count);
  }
  const int64_t B = static_cast<int64_t>(spans.size());
  b.ids = torch::zeros({B, T}, torch::kInt64);
  b.mask = torch::zeros({B, T}, torch::kInt64);
  b.positions = torch::zeros({B, b.width}, torch::kInt64);
  auto ia = b.ids.accessor<int64_t, 2>();
  auto ma = b.mask.accessor<int64_t, 2>();
  auto pa = b.positions.accessor<int64_t, 2>();
  for (int64_t r = 0; r < B; ++r) {
    const Span& s = spans[static_cast<size_t>(r)];
    for (int64_t t = 0; t < s.first + s.count; ++t) {
      ia[r][t] = s.ids[static_cast<size_t>(t)];
      ma[r][t] = 1;
    }
    for (int64_t j = 0; j < b.width; ++j) pa[r][j] = s.first + std::min(j, s.count - 1);
  }
  return b;
}

}  // namespace

std::vector<std::vector<PositionScore>> score_spans(const Qwen2Model& expert, const Qwen2Model& amateur,
                                                    const std::vector<Span>& spans, const ContrastOptions& o) {
  if (spans.empty()) return {};
  torch::NoGradGuard no_grad;
  const SpanBatch b = batch_of(spans);
  const int64_t rows = static_cast<int64_t>(spans.size()) * b.width;
  const at::Tensor le = expert.logits_at(b.ids, b.mask, b.positions).reshape({rows, -1}).narrow(1, 0, o.shared_vocab);
  const at::Tensor la = amateur.logits_at(b.ids, b.mask, b.positions)
                            .to(le.device())
                            .reshape({rows, -1})
                            .narrow(1, 0, o.shared_vocab);
  const std::vector<PositionScore> all = score_rows(le, la, o);
  std::vector<std::vector<PositionScore>> out(spans.size());
  for (size_t r = 0; r < spans.size(); ++r) {
    const auto begin = all.begin() + static_cast<std::ptrdiff_t>(r) * b.width;
    out[r].assign(begin, begin + spans[r].count);
  }
  return out;
}

}  // namespace lr::driver
