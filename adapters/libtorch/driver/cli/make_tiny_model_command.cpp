// lightreasoner make-tiny-model --out DIR [...]: a random Qwen2 checkpoint,
// the fixture the tests use in place of real weights.
#include <iostream>
#include <memory>

#include "commands.h"
#include "checkpoint/tiny_model.h"

namespace lr::driver::cli {

void add_make_tiny_model_command(CLI::App& app) {
  auto opts = std::make_shared<TinyModelOptions>();
  auto dtype = std::make_shared<std::string>("float32");
  CLI::App* cmd = app.add_subcommand(
      "make-tiny-model", "Write a random Qwen2 checkpoint (config.json, model.safetensors, tokenizer files)");
  cmd->add_option("--out", opts->out_dir, "output folder")->required();
  cmd->add_option("--layers", opts->layers, "decoder layers")->check(CLI::Range(int64_t{1}, int64_t{256}))
      ->capture_default_str();
  cmd->add_option("--hidden", opts->hidden, "hidden size")->check(CLI::Range(int64_t{2}, int64_t{1} << 16))
      ->capture_default_str();
  cmd->add_option("--heads", opts->heads, "attention heads")->check(CLI::Range(int64_t{1}, int64_t{1024}))
      ->capture_default_str();
  cmd->add_option("--kv-heads", opts->kv_heads, "key/value heads (divides --heads)")
      ->check(CLI::Range(int64_t{1}, int64_t{1024}))->capture_default_str();
  cmd->add_option("--intermediate", opts->intermediate, "MLP size (0: default for the hidden size)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--vocab", opts->vocab, "vocabulary size when no --vocab-from is given")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--vocab-from", opts->vocab_from,
                  "a tokenizer.json (or its folder): its vocabulary size, and its files copied into --out")
      ->check(CLI::ExistingPath);
  cmd->add_option("--seed", opts->seed, "random seed")->capture_default_str();
  cmd->add_option("--shards", opts->shards, "write this many safetensors shards with an index")
      ->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_flag("--tie", opts->tie_word_embeddings, "tie lm_head to the embedding (no lm_head.weight)");
  cmd->add_option("--dtype", *dtype, "weights dtype")
      ->check(CLI::IsMember({"float32", "bfloat16", "float16"}))->capture_default_str();
  cmd->callback([opts, dtype] {
    if (opts->heads % opts->kv_heads != 0)
      throw CLI::ValidationError("--kv-heads", "must divide --heads");
    if (opts->hidden % opts->heads != 0)
      throw CLI::ValidationError("--heads", "must divide --hidden");
    opts->dtype = *dtype == "bfloat16" ? torch::kBFloat16 : *dtype == "float16" ? torch::kFloat16 : torch::kFloat32;
    write_tiny_qwen2(*opts);
    std::cerr << "make-tiny-model: wrote " << opts->out_dir << "\n";
  });
}

}  // namespace lr::driver::cli
