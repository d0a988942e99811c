// The experiment's configuration: one TOML file (configs/paper.toml,
// configs/tiny.toml) plus `--set key=value` overrides, validated key by key.
// Every default lives in defaults.h (the paper's, per ../METHOD.md); see
// configs/paper.toml for each key's documentation.
//
// Inside: config_schema.h lists every key once (type, check) and drives the
// reader (config_reader: TOML -> these structs, errors naming key and line),
// --set (config_overrides, schema_keys), the writer (config_writer.cpp:
// to_toml) and equality (config_equality.cpp); config_paths resolves the
// paths, bundled_data knows the bundled sets; load_config.cpp puts them in order.
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

#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/defaults.h"

namespace lr::driver {

// A configuration error. The message names the file, the dotted key
// (`lora.r`), the TOML line where there is one, and what is wrong; several
// problems are reported together, one per line.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RunConfig {
  std::string out_dir = defaults::run::out_dir;  // the run folder (relative: to the working directory)
  int64_t seed = defaults::run::seed;
  std::string device = defaults::run::device;  // "cpu", "cuda" or "cuda:N"
  std::string dtype = defaults::run::dtype;  // "float32" or "bfloat16" (weights and compute of the models)
  // Only under a distributed launch (distributed/process_group.h): "auto"
  // (NCCL on CUDA, Gloo on CPU), "nccl" or "gloo"; and the seconds a silent
  // peer or the rendezvous may take before every rank stops.
  std::string backend = defaults::run::backend;
  double peer_timeout = defaults::run::peer_timeout;
  double rendezvous_timeout = defaults::run::rendezvous_timeout;
};

// make-tiny-model shapes, used when ModelsConfig::make_tiny is true.
struct TinyModelsConfig {
  std::string tokenizer;  // tokenizer.json (or its folder) whose vocabulary the tiny models use; "" = the stage's fallback
  int64_t vocab = defaults::tiny::vocab;  // 0: the tokenizer's vocabulary (1024 without a tokenizer)
  int64_t expert_layers = defaults::tiny::expert_layers;
  int64_t expert_hidden = defaults::tiny::expert_hidden;
  int64_t amateur_layers = defaults::tiny::amateur_layers;
  int64_t amateur_hidden = defaults::tiny::amateur_hidden;
  int64_t heads = defaults::tiny::heads;
  int64_t kv_heads = defaults::tiny::kv_heads;
  int64_t expert_seed = defaults::tiny::expert_seed;
  int64_t amateur_seed = defaults::tiny::amateur_seed;
};

struct ModelsConfig {
  std::string expert;   // Hugging Face folder (config.json, safetensors, tokenizer.json)
  std::string amateur;  // same family and tokenizer as the expert
  bool make_tiny = defaults::models::make_tiny;
  bool pretrain = defaults::models::pretrain;  // train both from scratch first ([pretrain]); paths "" = RUN/models/expert, amateur
  TinyModelsConfig tiny;
};

struct DataConfig {
  std::string bundled_dir;  // resolved: the bundled data folder (bench/data)
  std::string train_file;   // resolved: "" in the file means <bundled_dir>/gsm8k/train.jsonl
  std::string question_field = defaults::data::question_field;
  std::string answer_field = defaults::data::answer_field;  // GSM8K: the ground truth follows "####"
  int64_t num_problems = defaults::data::num_problems;  // 0: all
  bool shuffle = defaults::data::shuffle;  // false: the first num_problems; true: a random subset (run.seed)
};

struct PromptConfig {
  std::string system = kDefaultSystemPrompt;
  std::string templ = kDefaultCotTemplate;  // TOML key `template`: {system} and {question}
  std::string eval_template_base = kDefaultBaseTemplate;  // {question}
};

struct SampleConfig {
  int64_t max_new_tokens = defaults::sample::max_new_tokens;
  bool greedy = defaults::sample::greedy;
  double temperature = defaults::sample::temperature;  // used when greedy = false; > 0
  double top_p = defaults::sample::top_p;  // used when greedy = false; in (0, 1]
  int64_t batch_size = defaults::sample::batch_size;  // problems per batched rollout
  std::vector<int64_t> stop_ids;  // empty: the expert's eos ids (generation_config.json)
  double kl_threshold = defaults::decimal_double(defaults::sample::kl_threshold());  // kappa
  double beta = defaults::decimal_double(defaults::sample::beta());  // in (0, 1]
  int64_t k = defaults::sample::k;  // target slots per kept step (larger supports are truncated and counted)
  int64_t shared_vocab = defaults::sample::shared_vocab;  // 0: the ids both models really share
  // The paper's ablations (its Table 6): which steps are kept ("kl", "all",
  // "random": as many as "kl" keeps, at random) and what they are trained
  // toward ("contrastive", "expert": the expert's own beta-masked
  // distribution, "argmax": its own top token).
  std::string selection = defaults::sample::selection;
  std::string targets = defaults::sample::targets;
};

struct LoraSection {  // [lora]; the trainer's own type is train/lora.h's LoraConfig
  int64_t r = defaults::lora::r;
  double alpha = defaults::lora::alpha;
  double dropout = defaults::lora::dropout;  // in [0, 1)
  std::vector<std::string> target_modules{std::begin(defaults::lora::target_modules),
                                          std::end(defaults::lora::target_modules)};
};

struct TrainConfig {
  double lr = defaults::train::lr;
  double weight_decay = defaults::train::weight_decay;
  double adam_beta1 = defaults::train::adam_beta1;
  double adam_beta2 = defaults::train::adam_beta2;
  double adam_eps = defaults::train::adam_eps;
  int64_t warmup_steps = defaults::train::warmup_steps;
  std::string schedule = defaults::train::schedule;  // "linear" (decay to 0) or "constant"
  double grad_clip = defaults::train::grad_clip;  // max grad norm; 0: off
  int64_t batch_size = defaults::train::batch_size;
  int64_t grad_accum = defaults::train::grad_accum;
  int64_t samples_per_pass = defaults::train::samples_per_pass;  // per forward/backward (trainer.h)
  int64_t updates = defaults::train::updates;
  int64_t max_seq_len = defaults::train::max_seq_len;  // longer prefixes are cut from the left
  int64_t checkpoint_every = defaults::train::checkpoint_every;  // updates; 0: only at the end
  bool packed = defaults::train::packed;  // score all kept positions of a rollout in one forward pass
  bool export_merged = defaults::train::export_merged;  // also write the merged full weights beside the adapter
};

// One evaluation set. A bundled name fills file and fields; a table entry
// may override them, and one with another name must give its file.
struct EvalDataset {
  std::string name;
  std::string file;  // resolved JSONL path
  std::string question_field = defaults::data::question_field;
  std::string answer_field = defaults::data::answer_field;
  std::string context_field;  // prepended to the question when set (SVAMP Body, ASDiv body)
  std::string choices_field;  // multiple choice: a list of options; the answer is their index (MMLU-STEM)
};

struct EvalConfig {
  std::vector<EvalDataset> datasets = {EvalDataset{defaults::eval::dataset, "", defaults::data::question_field,
                                                       defaults::data::answer_field, "", ""}};  // file: load_config
  int64_t max_new_tokens = defaults::eval::max_new_tokens;
  int64_t batch_size = defaults::eval::batch_size;
  int64_t limit = defaults::eval::limit;  // problems per dataset; 0: all
  std::vector<int64_t> stop_ids;  // empty: the model's eos ids and the tokenizer's <|im_end|>, <|endoftext|>
  // Text that ends an output of the plain prompt (the Qwen2.5-Math toolkit's
  // stop word for it); the output is cut before it.
  std::vector<std::string> plain_stop_strings = {defaults::eval::plain_stop_string};
  std::string base_prompt = defaults::eval::base_prompt;  // base model: "plain" (prompt.eval_template_base) or "cot" (prompt.template)
  std::string tuned_prompt = defaults::eval::tuned_prompt;  // SFT and LightReasoner models: "plain" or "cot"
};

struct SftConfig {
  bool enabled = defaults::sft::enabled;
  int64_t max_new_tokens = defaults::sft::max_new_tokens;  // trajectory length
  int64_t num_problems = defaults::sft::num_problems;  // GSM8K train problems to roll out; 0: all
  int64_t batch_size = defaults::sft::batch_size;
  int64_t grad_accum = defaults::sft::grad_accum;
  int64_t samples_per_pass = defaults::sft::samples_per_pass;  // per forward/backward (trainer.h)
  double lr = defaults::sft::lr;
  int64_t epochs = defaults::sft::epochs;
  int64_t updates = defaults::sft::updates;  // > 0: this many updates instead of epochs
  int64_t max_seq_len = defaults::sft::max_seq_len;  // prompt + trajectory; longer outputs lose their end
  // "rejection": the expert's right trajectories; "ground_truth": the
  // problems' own worked solutions (the paper's "GT supervision").
  std::string source = defaults::sft::source;
};

// models.pretrain: the miniature's expert and amateur trained from scratch on
// the synthetic task's corpus (pretrain/). Both learn the general mix for
// general_steps updates; the expert then goes on chain_steps more with the
// chains (chain_fraction of its sequences), so the two differ in domain
// expertise, the axis of the paper's Table 5.
struct PretrainConfig {
  int64_t task_seed = defaults::pretrain::task_seed;
  int64_t init_seed = defaults::pretrain::init_seed;
  int64_t vocab = defaults::pretrain::vocab;
  int64_t heads = defaults::pretrain::heads;
  int64_t kv_heads = defaults::pretrain::kv_heads;
  int64_t expert_layers = defaults::pretrain::expert_layers;
  int64_t expert_hidden = defaults::pretrain::expert_hidden;
  int64_t amateur_layers = defaults::pretrain::amateur_layers;
  int64_t amateur_hidden = defaults::pretrain::amateur_hidden;
  int64_t general_steps = defaults::pretrain::general_steps;
  int64_t chain_steps = defaults::pretrain::chain_steps;
  double chain_fraction = defaults::pretrain::chain_fraction;
  int64_t batch_size = defaults::pretrain::batch_size;
  int64_t seq_len = defaults::pretrain::seq_len;
  double lr = defaults::pretrain::lr;
  int64_t warmup_steps = defaults::pretrain::warmup_steps;
  int64_t checkpoint_every = defaults::pretrain::checkpoint_every;
};

// What explains a result: stage 1's statistics on the validation rollouts and
// what the targets would do to the expert (stages/diagnose).
struct DiagnosticsConfig {
  bool enabled = defaults::diagnostics::enabled;
  int64_t problems = defaults::diagnostics::problems;
};

// `lightreasoner sweep`: each variant (a built-in ablation name, or
// "NAME: key=value; key=value") with each seed, one table.
struct SweepConfig {
  std::vector<int64_t> seeds{std::begin(defaults::sweep::seeds), std::end(defaults::sweep::seeds)};
  std::vector<std::string> variants{std::begin(defaults::sweep::variants), std::end(defaults::sweep::variants)};
};

struct ReportConfig {
  bool plots = defaults::report::plots;
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
  PretrainConfig pretrain;
  DiagnosticsConfig diagnostics;
  SweepConfig sweep;
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
