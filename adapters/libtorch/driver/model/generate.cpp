#include "model/generate.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

#include "model/sampling.h"

namespace lr::driver {

namespace {

// Left-padded ids [B, L] and a mask [B, L + N] with room for every new
// token; the columns of new tokens are 1 (a finished row keeps being fed,
// its output is frozen).
std::pair<torch::Tensor, torch::Tensor> left_padded(const std::vector<std::vector<int64_t>>& prompts,
                                                    const std::vector<size_t>& rows, int64_t L, int64_t N) {
  const int64_t B = static_cast<int64_t>(rows.size());
  auto ids = torch::zeros({B, L}, torch::kLong);
  auto mask = torch::zeros({B, L + N}, torch::kLong);
  auto ia = ids.accessor<int64_t, 2>();
  auto ma = mask.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[rows[static_cast<size_t>(b)]];
    const int64_t off = L - static_cast<int64_t>(p.size());
    for (size_t j = 0; j < p.size(); ++j) ia[b][off + static_cast<int64_t>(j)] = p[j];
    for (int64_t j = off; j < L + N; ++j) ma[b][j] = 1;
  }
  return {ids, mask};
}

// The sampling draws of one step: a function of (seed, row, step) only.
torch::Tensor step_uniforms(const GenerateOptions& opt, const std::vector<size_t>& rows, int64_t step) {
  const int64_t B = static_cast<int64_t>(rows.size());
  torch::Tensor uniforms = torch::empty({B}, torch::kFloat);
  auto ua = uniforms.accessor<float, 1>();
  for (int64_t b = 0; b < B; ++b) {
    const double u = counter_uniform(opt.seed, rows[static_cast<size_t>(b)], static_cast<uint64_t>(step));
    ua[b] = std::min(static_cast<float>(u), 0.99999994f);
  }
  return uniforms;
}

// Appends each running row's token; a stop id or stop_when finishes the row.
// Returns how many rows finished.
int64_t record_tokens(const torch::Tensor& next, const std::vector<size_t>& rows, const GenerateOptions& opt,
                      std::vector<char>& finished, std::vector<std::vector<int64_t>>& out) {
  auto next_cpu = next.to(torch::kCPU);
  auto na = next_cpu.accessor<int64_t, 1>();
  int64_t done = 0;
  for (size_t b = 0; b < rows.size(); ++b) {
    if (finished[b]) continue;
    const int64_t tok = na[static_cast<int64_t>(b)];
    std::vector<int64_t>& row = out[rows[b]];
    row.push_back(tok);
    if (std::find(opt.stop_ids.begin(), opt.stop_ids.end(), tok) != opt.stop_ids.end() ||
        (opt.stop_when && opt.stop_when(rows[b], row))) {
      finished[b] = 1;
      ++done;
    }
  }
  return done;
}

// One batch: rows `rows` of `prompts`, results written into out[rows[b]].
void generate_batch(const Qwen2Model& model, const std::vector<std::vector<int64_t>>& prompts,
                    const std::vector<size_t>& rows, const GenerateOptions& opt,
                    std::vector<std::vector<int64_t>>& out) {
  const int64_t B = static_cast<int64_t>(rows.size());
  int64_t L = 0;
  for (size_t r : rows) L = std::max<int64_t>(L, static_cast<int64_t>(prompts[r].size()));
  const int64_t N = opt.max_new_tokens;
  auto [ids, mask] = left_padded(prompts, rows, L, N);
  const torch::Device dev = model.device();
  ids = ids.to(dev);
  mask = mask.to(dev);
  auto pos = position_ids_from_mask(mask.narrow(1, 0, L));
  auto next_pos = pos.narrow(1, L - 1, 1) + 1;  // [B, 1]

  const SamplingParams sp{opt.greedy, opt.temperature, opt.top_p};
  KVCache cache;
  torch::Tensor logits;  // [B, V] float32 at the last position
  if (opt.use_cache) {
    cache = model.make_cache(B, L + N);
    auto h = model.hidden_states(ids, mask.narrow(1, 0, L), pos, &cache);
    logits = model.lm_head(h.select(1, L - 1)).to(torch::kFloat);
  } else {
    logits = model.logits_at(ids, mask.narrow(1, 0, L), torch::full({B, 1}, L - 1, torch::kLong)).squeeze(1);
  }

  std::vector<char> finished(static_cast<size_t>(B), 0);
  int64_t running = B;
  for (int64_t step = 0; step < N; ++step) {
    auto next = choose_tokens(logits, sp, opt.greedy ? torch::Tensor() : step_uniforms(opt, rows, step));  // [B]
    running -= record_tokens(next, rows, opt, finished, out);
    if (running == 0 || step + 1 == N) break;

    auto col = next.view({B, 1});
    const int64_t S = L + step + 1;  // sequence length including this token
    if (opt.use_cache) {
      auto h = model.hidden_states(col, mask.narrow(1, 0, S), next_pos, &cache);
      next_pos = next_pos + 1;
      logits = model.lm_head(h.select(1, 0)).to(torch::kFloat);
    } else {
      ids = torch::cat({ids, col}, 1);
      logits = model.logits_at(ids, mask.narrow(1, 0, S), torch::full({B, 1}, S - 1, torch::kLong)).squeeze(1);
    }
  }
}

}  // namespace

std::vector<std::vector<int64_t>> generate(const Qwen2Model& model,
                                           const std::vector<std::vector<int64_t>>& prompts,
                                           const GenerateOptions& opt) {
  if (opt.batch_size < 1) throw std::invalid_argument("generate: batch_size must be >= 1");
  if (opt.max_new_tokens < 0) throw std::invalid_argument("generate: max_new_tokens must be >= 0");
  if (!opt.greedy && !(opt.temperature > 0.0))
    throw std::invalid_argument("generate: temperature must be > 0 when sampling");
  if (!opt.greedy && !(opt.top_p >= 0.0 && opt.top_p <= 1.0))
    throw std::invalid_argument("generate: top_p must be in [0, 1]");
  const int64_t V = model.config().vocab_size;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) throw std::invalid_argument("generate: prompt " + std::to_string(i) + " is empty");
    for (int64_t t : prompts[i])
      if (t < 0 || t >= V)
        throw std::invalid_argument("generate: prompt " + std::to_string(i) + " has id " + std::to_string(t) +
                                    " outside the vocabulary [0, " + std::to_string(V) + ")");
  }

  std::vector<std::vector<int64_t>> out(prompts.size());
  if (prompts.empty() || opt.max_new_tokens == 0) return out;
  torch::NoGradGuard no_grad;

  std::vector<size_t> order(prompts.size());
  std::iota(order.begin(), order.end(), size_t{0});
  if (opt.sort_by_length)
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return prompts[a].size() > prompts[b].size(); });
  const size_t bs = static_cast<size_t>(opt.batch_size);
  for (size_t start = 0; start < order.size(); start += bs) {
    std::vector<size_t> rows(order.begin() + static_cast<std::ptrdiff_t>(start),
                             order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + bs)));
    generate_batch(model, prompts, rows, opt, out);
    if (opt.on_progress)
      opt.on_progress(static_cast<int64_t>(start + rows.size()), static_cast<int64_t>(prompts.size()));
  }
  return out;
}

std::vector<std::vector<int64_t>> generate_no_cache(const Qwen2Model& model,
                                                    const std::vector<std::vector<int64_t>>& prompts,
                                                    GenerateOptions options) {
  options.use_cache = false;
  return generate(model, prompts, options);
}

}  // namespace lr::driver
