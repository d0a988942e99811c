// LoRA (Hu et al. 2021) on the frozen Qwen2: each targeted Linear gets
// out += scaling * dropout(x) A^T B^T with A [r, in], B [out, r],
// scaling = alpha / r, initialised as PEFT does (A kaiming-uniform with
// a = sqrt(5), i.e. U(-1/sqrt(in), 1/sqrt(in)); B zeros), so a fresh adapter
// leaves the model's output unchanged. A and B are float32 leaves that require
// grad (master weights); the forward casts them to the input's dtype.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/qwen2_model.h"
#include "train/lora_config.h"
#include "train/lora_dropout.h"

namespace lr::driver {

class LoraAdapter : public LinearAdapter {
 public:
  // A [r, in] ~ U(-1/sqrt(in), 1/sqrt(in)) from `generator` (CPU), B [out, r] = 0,
  // both float32 on `device`, requires_grad.
  LoraAdapter(int64_t in_features, int64_t out_features, const LoraConfig& config, torch::Device device,
              torch::Generator& generator);

  // scaling * (dropout(x) @ A^T) @ B^T in x's dtype; dropout only in training
  // mode: per row (lora_dropout.h) when rows are set, else from the global
  // generator of x's device.
  torch::Tensor forward(const torch::Tensor& x) const override;

  // scaling * B @ A, float32 [out, in]: what merging adds to the weight.
  torch::Tensor delta_weight() const;

  torch::Tensor A;  // [r, in]  float32, requires_grad
  torch::Tensor B;  // [out, r] float32, requires_grad
  double scaling = 1.0;
  double dropout = 0.0;
  bool training = true;
  int64_t index = 0;              // its place in lora_adapters(): salts the row masks
  std::vector<DropoutRow> rows;   // the current forward's rows; empty: the global generator
};

// The Linear `module` ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
// "up_proj", "down_proj") of a layer; throws std::invalid_argument otherwise.
Linear& linear_of(Qwen2Layer& layer, const std::string& module);
const Linear& linear_of(const Qwen2Layer& layer, const std::string& module);

// The Hugging Face module path of layer i's `module`, e.g.
// "model.layers.3.self_attn.q_proj" or "model.layers.3.mlp.down_proj".
std::string module_path(int64_t layer, const std::string& module);

// Wraps every targeted Linear of every layer in a fresh LoraAdapter (layer by
// layer, modules in lora_supported_modules() order, A drawn from one generator
// seeded with config.seed), freezes every base weight (requires_grad false),
// and returns the trainable tensors: lora_parameters(model).
// Throws std::invalid_argument for r < 1, dropout outside [0, 1), an unknown or
// repeated target module, no target modules, or a Linear that already has an adapter.
std::vector<torch::Tensor> attach_lora(Qwen2Model& model, const LoraConfig& config);

// The LoRA adapters attached to the model, as (module path, adapter) in layer
// order then lora_supported_modules() order.
std::vector<std::pair<std::string, std::shared_ptr<LoraAdapter>>> lora_adapters(const Qwen2Model& model);

// A then B of each adapter in lora_adapters() order.
std::vector<torch::Tensor> lora_parameters(const Qwen2Model& model);

// Training (dropout on) or evaluation mode for every adapter.
void set_lora_training(const Qwen2Model& model, bool training);

// Sets the rows of the next forward passes for every adapter's dropout (empty:
// back to the global generator). The objectives set them around their forward
// pass from the seeds the trainer gives (LoraDropoutRows).
void set_lora_dropout_rows(const Qwen2Model& model, const std::vector<DropoutRow>& rows);

// Rows with these seeds (one per row; none: nothing set) and real lengths for
// the scope's lifetime.
class LoraDropoutRows {
 public:
  LoraDropoutRows(const Qwen2Model& model, const std::vector<uint64_t>& seeds, const std::vector<int64_t>& lengths);
  ~LoraDropoutRows();
  LoraDropoutRows(const LoraDropoutRows&) = delete;
  LoraDropoutRows& operator=(const LoraDropoutRows&) = delete;

 private:
  const Qwen2Model& model_;
  bool set_ = false;
};

// Merges every LoRA adapter into its Linear's weight (W + scaling * B A, as a
// new tensor; the old one is not written to) and removes the adapters.
void merge_lora(Qwen2Model& model);

}  // namespace lr::driver
