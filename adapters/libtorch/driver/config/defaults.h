// Every default of the driver, in one place: the config's fields
// (experiment_config.h), the modules' option structs (SampleOptions,
// TrainOptions, LoraConfig, EvalOptions) and configs/paper.toml, which
// documents them and is checked against them by tests/driver/config.
// Each value is the paper's setting unless METHOD.md's table of defaults
// says otherwise. kappa and beta are the C library's own defaults
// (lr_select_params_default(), lr_target_params_default()), not restated.
//
// No dependency beyond the C library's header: any driver folder may include it.
#pragma once

#include <charconv>
#include <cstdint>

#include "lightreasoner/lightreasoner.h"

namespace lr::driver {

// METHOD.md's system text.
inline constexpr const char* kDefaultSystemPrompt =
    "Please reason step by step, and put your final answer within \\boxed{}.";
// The ChatML chain-of-thought prompt: {system} and {question} are filled in.
inline constexpr const char* kDefaultCotTemplate =
    "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n";
// The base model's plain evaluation prompt.
inline constexpr const char* kDefaultBaseTemplate = "Question: {question}\nAnswer:";

namespace defaults {

// A float's shortest decimal as a double (0.4f -> 0.4, not 0.4000000059604645),
// so that a config that writes the library's default in decimal equals it.
inline double decimal_double(float value) {
  char text[32];
  const char* end = std::to_chars(text, text + sizeof text, value).ptr;
  double out = 0;
  std::from_chars(text, end, out);
  return out;
}

namespace run {
inline constexpr const char* out_dir = "runs/lightreasoner";
inline constexpr int64_t seed = 42;
inline constexpr const char* device = "cuda";
inline constexpr const char* dtype = "bfloat16";
// Under torchrun / `lightreasoner launch` (distributed/): the c10d backend,
// how long a silent peer may take before the ranks stop, and how long the
// ranks wait for each other to start (process start and library loading
// differ by many seconds on a loaded machine; torchrun's rendezvous waits 900 s).
inline constexpr const char* backend = "auto";
inline constexpr double peer_timeout = 120;
inline constexpr double rendezvous_timeout = 600;
}  // namespace run

namespace launch {  // `lightreasoner launch` (distributed/launcher.h)
// After a rank fails: how long the others get between SIGTERM and SIGKILL, and
// how long a rank stopped for a lost peer waits for the failure's cause to exit.
inline constexpr double peer_grace = 10;
}  // namespace launch

namespace models {
inline constexpr bool make_tiny = false;
inline constexpr bool pretrain = false;
}  // namespace models

namespace tiny {  // make-tiny-model shapes of models.make_tiny
inline constexpr int64_t vocab = 0;  // the tokenizer's vocabulary
inline constexpr int64_t expert_layers = 2;
inline constexpr int64_t expert_hidden = 64;
inline constexpr int64_t amateur_layers = 1;
inline constexpr int64_t amateur_hidden = 32;
inline constexpr int64_t heads = 4;
inline constexpr int64_t kv_heads = 2;
inline constexpr int64_t expert_seed = 1;
inline constexpr int64_t amateur_seed = 2;
}  // namespace tiny

namespace data {
inline constexpr const char* question_field = "question";
inline constexpr const char* answer_field = "answer";
inline constexpr int64_t num_problems = 1000;
inline constexpr bool shuffle = false;
}  // namespace data

namespace sample {
inline constexpr int64_t max_new_tokens = 128;
inline constexpr bool greedy = true;
inline constexpr double temperature = 1.0;  // the expert's rollout sampling (not the library's contrast temperature)
inline constexpr double top_p = 1.0;
inline constexpr int64_t batch_size = 8;  // problems per batched rollout
inline float kl_threshold() { return lr_select_params_default().kl_threshold; }  // kappa
inline float beta() { return lr_target_params_default().beta; }
inline constexpr int64_t k = 8;  // target slots per kept step
inline constexpr int64_t shared_vocab = 0;  // the ids both models really share
inline constexpr const char* selection = "kl";  // the paper's: KL(p_E || p_A) > kappa
inline constexpr const char* targets = "contrastive";  // the paper's: the expert's advantage over the amateur
}  // namespace sample

namespace lora {
inline constexpr int64_t r = 8;
inline constexpr int64_t max_r = int64_t{1} << 16;  // the largest r accepted ([lora], a PEFT adapter_config.json)
inline constexpr double alpha = 16.0;
inline constexpr double dropout = 0.05;
inline constexpr const char* target_modules[] = {"q_proj", "v_proj"};
}  // namespace lora

namespace train {
inline constexpr double lr = 5e-5;
inline constexpr double weight_decay = 0.0;
inline constexpr double adam_beta1 = 0.9;
inline constexpr double adam_beta2 = 0.999;
inline constexpr double adam_eps = 1e-8;
inline constexpr int64_t warmup_steps = 0;
inline constexpr const char* schedule = "linear";
inline constexpr double grad_clip = 1.0;
inline constexpr int64_t batch_size = 8;
inline constexpr int64_t grad_accum = 2;
inline constexpr int64_t samples_per_pass = 1;  // forward/backward passes of one sample each
inline constexpr int64_t updates = 1000;
inline constexpr int64_t max_seq_len = 512;
inline constexpr int64_t checkpoint_every = 200;
inline constexpr bool packed = false;
inline constexpr bool export_merged = false;
}  // namespace train

namespace eval {
inline constexpr const char* dataset = "gsm8k";
inline constexpr int64_t max_new_tokens = 2048;
inline constexpr int64_t batch_size = 16;
inline constexpr int64_t limit = 0;  // all
inline constexpr const char* plain_stop_string = "\n\nQuestion:";
inline constexpr const char* base_prompt = "plain";
inline constexpr const char* tuned_prompt = "cot";
}  // namespace eval

namespace sft {
inline constexpr bool enabled = false;
inline constexpr int64_t max_new_tokens = 1024;
inline constexpr int64_t num_problems = 0;  // all
inline constexpr int64_t batch_size = 4;
inline constexpr int64_t grad_accum = 4;
inline constexpr int64_t samples_per_pass = 1;
inline constexpr double lr = 5e-5;
inline constexpr int64_t epochs = 1;
inline constexpr int64_t updates = 0;  // epochs decide
inline constexpr int64_t max_seq_len = 2048;
inline constexpr const char* source = "rejection";  // the expert's own right trajectories (the paper's baseline)
}  // namespace sft

// The miniature's models, trained from scratch (models.pretrain; configs/miniature.toml).
namespace pretrain {
inline constexpr int64_t task_seed = 1;  // the synthetic corpus's draws
inline constexpr int64_t init_seed = 1;  // the models' initial weights and the data order
inline constexpr int64_t vocab = 384;    // the small BPE learnt from the synthetic corpus
inline constexpr int64_t heads = 4;
inline constexpr int64_t kv_heads = 2;
inline constexpr int64_t expert_layers = 2;
inline constexpr int64_t expert_hidden = 64;
inline constexpr int64_t amateur_layers = 1;
inline constexpr int64_t amateur_hidden = 32;
inline constexpr int64_t general_steps = 400;  // updates on the general mix (both models)
inline constexpr int64_t chain_steps = 600;    // the expert's further updates with the chains
inline constexpr double chain_fraction = 0.75;  // of the expert's sequences in its chain phase
inline constexpr int64_t batch_size = 32;       // sequences per update
inline constexpr int64_t seq_len = 160;         // tokens per sequence (longer documents are cut)
inline constexpr double lr = 3e-3;
inline constexpr int64_t warmup_steps = 50;
inline constexpr int64_t checkpoint_every = 100;
}  // namespace pretrain

namespace diagnostics {
inline constexpr bool enabled = false;
inline constexpr int64_t problems = 200;  // of the first eval dataset (the validation split); 0: all
}  // namespace diagnostics

namespace sweep {
inline constexpr int64_t seeds[] = {1, 2, 3};
inline constexpr const char* variants[] = {"sft", "lightreasoner"};
}  // namespace sweep

namespace report {
inline constexpr bool plots = true;
}  // namespace report

}  // namespace defaults
}  // namespace lr::driver
