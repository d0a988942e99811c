// The experiment's configuration: one TOML file (configs/paper.toml,
// configs/tiny.toml) plus `--set key=value` overrides, validated key by key.
// Every default is the paper's (../shared/METHOD.md); see configs/paper.toml
// for each key's documentation.
//
// Paths. Input paths in the file (models, data, eval files, the tiny models'
// tokenizer) are resolved against the config file's folder; run.out_dir, an
// output, is resolved against the current working directory. After
// load_config every path is absolute.
// Bundled data. data.bundled_dir "" means $LR_DATA_DIR when set, else the
// source tree's bench/data (compiled in). data.train_file "" means the bundled
// GSM8K train set; a named eval dataset ("gsm8k", "svamp", ...) reads its
// bundled file.
// Tiny models. models.make_tiny = true asks the run to write random tiny
// checkpoints with make-tiny-model (shapes in [models.tiny]) at models.expert
// and models.amateur; left empty, those are <out_dir>/models/tiny-expert and
// <out_dir>/models/tiny-amateur.
#pragma once

#include "sample/prompt.h"
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace lr::driver {

// A configuration error. The message names the file, the dotted key
// (`lora.r`), the TOML line where there is one, and what is wrong; several
// problems are reported together, one per line.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RunConfig {
  std::string out_dir = "runs/lightreasoner";  // the run folder (relative: to the working directory)
  int64_t seed = 42;
  std::string device = "cuda";   // "cpu", "cuda" or "cuda:N"
  std::string dtype = "bfloat16";  // "float32" or "bfloat16" (weights and compute of the models)
};

// make-tiny-model shapes, used when ModelsConfig::make_tiny is true.
struct TinyModelsConfig {
  std::string tokenizer;  // tokenizer.json (or its folder) whose vocabulary the tiny models use; "" = the stage's fallback
  int64_t vocab = 0;      // 0: the tokenizer's vocabulary (1024 without a tokenizer)
  int64_t expert_layers = 2;
  int64_t expert_hidden = 64;
  int64_t amateur_layers = 1;
  int64_t amateur_hidden = 32;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t expert_seed = 1;
  int64_t amateur_seed = 2;
};

struct ModelsConfig {
  std::string expert;   // Hugging Face folder (config.json, safetensors, tokenizer.json)
  std::string amateur;  // same family and tokenizer as the expert
  bool make_tiny = false;
  TinyModelsConfig tiny;
};

struct DataConfig {
  std::string bundled_dir;  // resolved: the bundled data folder (bench/data)
  std::string train_file;   // resolved: "" in the file means <bundled_dir>/gsm8k/train.jsonl
  std::string question_field = "question";
  std::string answer_field = "answer";  // GSM8K: the ground truth follows "####"
  int64_t num_problems = 1000;          // 0: all
  bool shuffle = false;                 // false: the first num_problems; true: a random subset (run.seed)
};

// kDefaultSystemPrompt: METHOD.md's system text, defined once in sample/prompt.h.
inline constexpr const char* kDefaultCotTemplate =
    "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n";
inline constexpr const char* kDefaultBaseTemplate = "Question: {question}\nAnswer:";

struct PromptConfig {
  std::string system = kDefaultSystemPrompt;
  std::string templ = kDefaultCotTemplate;  // TOML key `template`: {system} and {question}
  std::string eval_template_base = kDefaultBaseTemplate;  // {question}
};

struct SampleConfig {
  int64_t max_new_tokens = 128;
  bool greedy = true;
  double temperature = 1.0;  // used when greedy = false; > 0
  double top_p = 1.0;        // used when greedy = false; in (0, 1]
  int64_t batch_size = 8;    // problems per batched rollout
  std::vector<int64_t> stop_ids;  // empty: the expert's eos ids (generation_config.json)
  double kl_threshold = 0.4;      // kappa
  double beta = 0.2;              // in (0, 1]
  int64_t k = 8;                  // target slots per kept step (larger supports are truncated and counted)
  int64_t shared_vocab = 0;       // 0: the ids both models really share
};

struct LoraSection {  // [lora]; the trainer's own type is train/lora.h's LoraConfig
  int64_t r = 8;
  double alpha = 16.0;
  double dropout = 0.05;  // in [0, 1)
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
};

struct TrainConfig {
  double lr = 5e-5;
  double weight_decay = 0.0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  int64_t warmup_steps = 0;
  std::string schedule = "linear";  // "linear" (decay to 0) or "constant"
  double grad_clip = 1.0;           // max grad norm; 0: off
  int64_t batch_size = 8;
  int64_t grad_accum = 2;
  int64_t updates = 1000;
  int64_t max_seq_len = 512;
  int64_t checkpoint_every = 200;  // updates; 0: only at the end
  bool packed = false;             // score all kept positions of a rollout in one forward pass
  bool export_merged = false;      // also write merged full weights
};

// One evaluation set. A bundled name fills file and fields; a table entry
// may override them, and one with another name must give its file.
struct EvalDataset {
  std::string name;
  std::string file;  // resolved JSONL path
  std::string question_field = "question";
  std::string answer_field = "answer";
  std::string context_field;  // prepended to the question when set (SVAMP Body, ASDiv body)
  std::string choices_field;  // multiple choice: a list of options; the answer is their index (MMLU-STEM)
};

struct EvalConfig {
  std::vector<EvalDataset> datasets = {EvalDataset{"gsm8k", "", "question", "answer", "", ""}};  // file filled in by load_config
  int64_t max_new_tokens = 2048;
  int64_t batch_size = 16;
  int64_t limit = 0;  // problems per dataset; 0: all
  std::vector<int64_t> stop_ids;  // empty: the model's eos ids and the tokenizer's <|im_end|>, <|endoftext|>
  // Text that ends an output of the plain prompt (the Qwen2.5-Math toolkit's
  // stop word for it); the output is cut before it.
  std::vector<std::string> plain_stop_strings = {"\n\nQuestion:"};
  std::string base_prompt = "plain";  // base model: "plain" (prompt.eval_template_base) or "cot" (prompt.template)
  std::string tuned_prompt = "cot";   // SFT and LightReasoner models: "plain" or "cot"
};

struct SftConfig {
  bool enabled = false;
  int64_t max_new_tokens = 1024;  // trajectory length
  int64_t num_problems = 0;       // GSM8K train problems to roll out; 0: all
  int64_t batch_size = 4;
  int64_t grad_accum = 4;
  double lr = 5e-5;
  int64_t epochs = 1;
  int64_t updates = 0;  // > 0: this many updates instead of epochs
  int64_t max_seq_len = 2048;
};

struct ReportConfig {
  bool plots = true;
};

struct ExperimentConfig {
  std::string source;  // the config file's absolute path (not a TOML key)
  RunConfig run;
  ModelsConfig models;
  DataConfig data;
  PromptConfig prompt;
  SampleConfig sample;
  LoraSection lora;
  TrainConfig train;
  EvalConfig eval;
  SftConfig sft;
  ReportConfig report;
};

// Equality of every TOML-visible field (source is not compared).
bool operator==(const EvalDataset& a, const EvalDataset& b);
bool operator==(const ExperimentConfig& a, const ExperimentConfig& b);
inline bool operator!=(const ExperimentConfig& a, const ExperimentConfig& b) { return !(a == b); }

// The bundled evaluation sets' names, in the paper's order.
const std::vector<std::string>& bundled_eval_datasets();

// Reads path (TOML), applies overrides ("key=value", value a TOML value or a
// bare string), validates every key, resolves paths. Throws ConfigError.
ExperimentConfig load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// The effective configuration as TOML (absolute paths, every key), loadable
// by load_config to an equal ExperimentConfig.
std::string to_toml(const ExperimentConfig& config);

}  // namespace lr::driver
