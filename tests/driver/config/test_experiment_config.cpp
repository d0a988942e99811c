// lr_config: the shipped configs, defaults, errors that name the key (and the
// line), --set overrides, path resolution, the to_toml round trip.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "experiment_config.h"

namespace fs = std::filesystem;
using lr::driver::ConfigError;
using lr::driver::ExperimentConfig;
using lr::driver::load_config;
using lr::driver::to_toml;

namespace {

std::string normal(const fs::path& p) { return fs::absolute(p).lexically_normal().string(); }

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/lr_config_test_XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string write(const std::string& name, const std::string& text) const {
    const fs::path p = fs::path(path_) / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const char* kMinimal = "[models]\nexpert = \"e\"\namateur = \"a\"\n";

std::string paper() { return std::string(LR_CONFIGS_DIR) + "/paper.toml"; }
std::string tiny() { return std::string(LR_CONFIGS_DIR) + "/tiny.toml"; }

// The ConfigError message for loading `text` (with overrides); fails when it loads.
std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  TempDir d;
  const std::string f = d.write("c.toml", text);
  try {
    load_config(f, overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "loaded without error:\n" << text;
  return "";
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "in: " << (haystack)

}  // namespace

// ---- the shipped configs ------------------------------------------------------

TEST(ConfigShipped, PaperHasThePaperDefaults) {
  const ExperimentConfig c = load_config(paper());
  const fs::path dir = fs::path(LR_CONFIGS_DIR);
  EXPECT_EQ(c.models.expert, normal(dir / "models/Qwen2.5-Math-1.5B"));
  EXPECT_EQ(c.models.amateur, normal(dir / "models/Qwen2.5-0.5B"));
  EXPECT_FALSE(c.models.make_tiny);
  EXPECT_EQ(c.run.device, "cuda");
  EXPECT_EQ(c.run.dtype, "bfloat16");
  EXPECT_EQ(c.run.out_dir, normal(fs::current_path() / "runs/paper"));
  EXPECT_EQ(c.data.num_problems, 1000);
  EXPECT_EQ(c.data.train_file, normal(fs::path(c.data.bundled_dir) / "gsm8k/train.jsonl"));
  EXPECT_EQ(c.prompt.system, "Please reason step by step, and put your final answer within \\boxed{}.");
  EXPECT_EQ(c.prompt.templ,
            "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(c.prompt.eval_template_base, "Question: {question}\nAnswer:");
  EXPECT_EQ(c.sample.max_new_tokens, 128);
  EXPECT_TRUE(c.sample.greedy);
  EXPECT_DOUBLE_EQ(c.sample.kl_threshold, 0.4);
  EXPECT_DOUBLE_EQ(c.sample.beta, 0.2);
  EXPECT_EQ(c.sample.k, 8);
  EXPECT_EQ(c.sample.shared_vocab, 0);
  EXPECT_TRUE(c.sample.stop_ids.empty());
  EXPECT_EQ(c.lora.r, 8);
  EXPECT_DOUBLE_EQ(c.lora.alpha, 16.0);
  EXPECT_DOUBLE_EQ(c.lora.dropout, 0.05);
  EXPECT_EQ(c.lora.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_DOUBLE_EQ(c.train.lr, 5e-5);
  EXPECT_DOUBLE_EQ(c.train.weight_decay, 0.0);
  EXPECT_EQ(c.train.warmup_steps, 0);
  EXPECT_EQ(c.train.schedule, "linear");
  EXPECT_DOUBLE_EQ(c.train.grad_clip, 1.0);
  EXPECT_EQ(c.train.batch_size, 8);
  EXPECT_EQ(c.train.grad_accum, 2);
  EXPECT_EQ(c.train.updates, 1000);
  EXPECT_EQ(c.train.max_seq_len, 512);
  EXPECT_FALSE(c.train.packed);
  ASSERT_EQ(c.eval.datasets.size(), 6u);
  std::vector<std::string> names;
  for (const auto& d : c.eval.datasets) names.push_back(d.name);
  EXPECT_EQ(names, lr::driver::bundled_eval_datasets());
  EXPECT_EQ(c.eval.max_new_tokens, 2048);
  EXPECT_EQ(c.eval.limit, 0);
  EXPECT_EQ(c.eval.base_prompt, "plain");
  EXPECT_EQ(c.eval.tuned_prompt, "cot");
  EXPECT_FALSE(c.sft.enabled);
  EXPECT_EQ(c.sft.batch_size, 4);
  EXPECT_EQ(c.sft.grad_accum, 4);
  EXPECT_DOUBLE_EQ(c.sft.lr, 5e-5);
  EXPECT_TRUE(c.report.plots);
  // Every value in paper.toml is the built-in default: only paths differ
  // from a file that sets just the models.
  TempDir d;
  ExperimentConfig m = load_config(d.write("m.toml", kMinimal));
  m.models = c.models;
  m.run.out_dir = c.run.out_dir;
  m.eval.datasets = c.eval.datasets;
  EXPECT_TRUE(m == c) << to_toml(m) << "\n----\n" << to_toml(c);
}

// paper.toml documents the defaults: each value it writes is the defaults
// home's (config/defaults.h), kappa and beta the C library's own.
TEST(ConfigShipped, PaperDocumentsTheCompiledDefaults) {
  namespace d = lr::driver::defaults;
  const ExperimentConfig c = load_config(paper());
  EXPECT_EQ(c.run.seed, d::run::seed);
  EXPECT_EQ(c.run.device, d::run::device);
  EXPECT_EQ(c.run.dtype, d::run::dtype);
  EXPECT_EQ(c.run.backend, d::run::backend);
  EXPECT_EQ(c.run.peer_timeout, d::run::peer_timeout);
  EXPECT_EQ(c.data.num_problems, d::data::num_problems);
  EXPECT_EQ(c.prompt.system, lr::driver::kDefaultSystemPrompt);
  EXPECT_EQ(c.prompt.templ, lr::driver::kDefaultCotTemplate);
  EXPECT_EQ(c.prompt.eval_template_base, lr::driver::kDefaultBaseTemplate);
  EXPECT_EQ(c.sample.max_new_tokens, d::sample::max_new_tokens);
  EXPECT_EQ(c.sample.batch_size, d::sample::batch_size);
  EXPECT_EQ(c.sample.k, d::sample::k);
  EXPECT_EQ(static_cast<float>(c.sample.kl_threshold), lr_select_params_default().kl_threshold);
  EXPECT_EQ(static_cast<float>(c.sample.beta), lr_target_params_default().beta);
  EXPECT_EQ(c.sample.kl_threshold, 0.4);  // the library's 0.4f, read as the decimal the file writes
  EXPECT_EQ(c.lora.r, d::lora::r);
  EXPECT_EQ(c.lora.alpha, d::lora::alpha);
  EXPECT_EQ(c.lora.dropout, d::lora::dropout);
  EXPECT_EQ(c.train.lr, d::train::lr);
  EXPECT_EQ(c.train.schedule, d::train::schedule);
  EXPECT_EQ(c.train.batch_size, d::train::batch_size);
  EXPECT_EQ(c.train.grad_accum, d::train::grad_accum);
  EXPECT_EQ(c.train.updates, d::train::updates);
  EXPECT_EQ(c.train.max_seq_len, d::train::max_seq_len);
  EXPECT_EQ(c.train.checkpoint_every, d::train::checkpoint_every);
  EXPECT_EQ(c.train.export_merged, d::train::export_merged);
  EXPECT_EQ(c.eval.max_new_tokens, d::eval::max_new_tokens);
  EXPECT_EQ(c.eval.batch_size, d::eval::batch_size);
  EXPECT_EQ(c.sft.max_new_tokens, d::sft::max_new_tokens);
  EXPECT_EQ(c.sft.max_seq_len, d::sft::max_seq_len);
  EXPECT_EQ(c.sft.lr, d::sft::lr);
}

TEST(ConfigShipped, PaperBundledEvalFilesExist) {
  const ExperimentConfig c = load_config(paper(), {"data.bundled_dir=\"" LR_SOURCE_DATA_DIR "\""});
  EXPECT_TRUE(fs::is_regular_file(c.data.train_file)) << c.data.train_file;
  for (const auto& d : c.eval.datasets) EXPECT_TRUE(fs::is_regular_file(d.file)) << d.name << ": " << d.file;
  const auto& svamp = c.eval.datasets[1];
  EXPECT_EQ(svamp.question_field, "Question");
  EXPECT_EQ(svamp.context_field, "Body");
  EXPECT_EQ(c.eval.datasets[5].choices_field, "choices");
}

TEST(ConfigShipped, TinyIsTheSmokeRun) {
  const ExperimentConfig c = load_config(tiny());
  EXPECT_TRUE(c.models.make_tiny);
  EXPECT_EQ(c.models.expert, normal(fs::path(c.run.out_dir) / "models/tiny-expert"));
  EXPECT_EQ(c.models.amateur, normal(fs::path(c.run.out_dir) / "models/tiny-amateur"));
  EXPECT_EQ(c.models.tiny.expert_layers, 2);
  EXPECT_EQ(c.models.tiny.expert_hidden, 64);
  EXPECT_EQ(c.models.tiny.amateur_layers, 1);
  EXPECT_EQ(c.models.tiny.amateur_hidden, 32);
  EXPECT_EQ(c.run.device, "cpu");
  EXPECT_EQ(c.run.dtype, "float32");
  EXPECT_EQ(c.data.num_problems, 16);
  EXPECT_EQ(c.sample.max_new_tokens, 24);
  EXPECT_EQ(c.train.updates, 20);
  ASSERT_EQ(c.eval.datasets.size(), 1u);
  EXPECT_EQ(c.eval.datasets[0].name, "gsm8k");
  EXPECT_EQ(c.eval.limit, 16);
  EXPECT_TRUE(c.sft.enabled);
  // Random tiny models disagree at every step, so the smoke run raises kappa
  // above the paper's 0.4 to keep selection meaningful (see tiny.toml).
  EXPECT_DOUBLE_EQ(c.sample.kl_threshold, 6.4);
  // The paper's beta and LoRA rank.
  EXPECT_DOUBLE_EQ(c.sample.beta, 0.2);
  EXPECT_EQ(c.lora.r, 8);
}

// ---- defaults ----------------------------------------------------------------

TEST(ConfigDefaults, AbsentKeysTakeThePaperDefaults) {
  TempDir d;
  const ExperimentConfig c = load_config(d.write("c.toml", kMinimal));
  const ExperimentConfig def;
  EXPECT_EQ(c.sample.max_new_tokens, 128);
  EXPECT_DOUBLE_EQ(c.sample.kl_threshold, 0.4);
  EXPECT_DOUBLE_EQ(c.sample.beta, 0.2);
  EXPECT_EQ(c.lora.r, def.lora.r);
  EXPECT_EQ(c.lora.target_modules, def.lora.target_modules);
  EXPECT_EQ(c.train.updates, 1000);
  EXPECT_EQ(c.train.grad_accum, 2);
  EXPECT_EQ(c.eval.max_new_tokens, 2048);
  ASSERT_EQ(c.eval.datasets.size(), 1u);
  EXPECT_EQ(c.eval.datasets[0].name, "gsm8k");
  EXPECT_EQ(c.eval.datasets[0].file, normal(fs::path(c.data.bundled_dir) / "gsm8k/test.jsonl"));
  EXPECT_EQ(c.prompt.system, lr::driver::kDefaultSystemPrompt);
  EXPECT_EQ(c.data.question_field, "question");
  EXPECT_FALSE(c.sft.enabled);
  EXPECT_EQ(c.source, normal(fs::path(d.path()) / "c.toml"));
}

TEST(ConfigDefaults, EmptySectionsAreFine) {
  TempDir d;
  const ExperimentConfig c = load_config(d.write("c.toml", std::string(kMinimal) + "[sample]\n[lora]\n"));
  EXPECT_EQ(c.sample.k, 8);
}

TEST(ConfigDefaults, IntegersAreAcceptedForFloats) {
  TempDir d;
  const ExperimentConfig c = load_config(d.write("c.toml", std::string(kMinimal) + "[lora]\nalpha = 32\n"));
  EXPECT_DOUBLE_EQ(c.lora.alpha, 32.0);
}

// ---- errors name the key -------------------------------------------------------

TEST(ConfigErrors, UnknownTopLevelKey) {
  const std::string m = error_of(std::string(kMinimal) + "[sampel]\nk = 3\n");
  EXPECT_CONTAINS(m, "sampel: unknown key");
  EXPECT_CONTAINS(m, "c.toml:4");
}

TEST(ConfigErrors, UnknownTopLevelValue) {
  const std::string m = error_of(std::string("verbose = true\n") + kMinimal);
  EXPECT_CONTAINS(m, "c.toml:1: verbose: unknown key");
}

TEST(ConfigErrors, UnknownNestedKey) {
  const std::string m = error_of(std::string(kMinimal) + "[lora]\nr = 8\nrank = 4\n");
  EXPECT_CONTAINS(m, "c.toml:6: lora.rank: unknown key");
  EXPECT_CONTAINS(error_of(std::string(kMinimal) + "[sample]\nkl_treshold = 0.5\n"),
                  "sample.kl_treshold: unknown key (did you mean sample.kl_threshold?)");
}

TEST(ConfigErrors, UnknownKeyTwoLevelsDown) {
  const std::string m = error_of(std::string(kMinimal) + "[models.tiny]\nlayers = 3\n");
  EXPECT_CONTAINS(m, "models.tiny.layers: unknown key");
}

TEST(ConfigErrors, UnknownKeyInDatasetTable) {
  const std::string m = error_of(std::string(kMinimal) + "[eval]\ndatasets = [{name = \"x\", file = \"x.jsonl\", "
                                                         "questoin_field = \"q\"}]\n");
  EXPECT_CONTAINS(m, "eval.datasets[0].questoin_field: unknown key");
}

TEST(ConfigErrors, WrongTypes) {
  EXPECT_CONTAINS(error_of(std::string(kMinimal) + "[lora]\nr = \"8\"\n"),
                  "c.toml:5: lora.r: expected an integer, got a string");
  EXPECT_CONTAINS(error_of(std::string(kMinimal) + "[sample]\ngreedy = 1\n"),
                  "sample.greedy: expected a boolean");
  EXPECT_CONTAINS(error_of(std::string(kMinimal) + "[sample]\nkl_threshold = \"high\"\n"),
                  "sample.kl_threshold: expected a number");
  EXPECT_CONTAINS(error_of(std::string(kMinimal) + "[train]\nupdates = 10.0\n"),
                  "train.updates: expected an integer, got a float");
  EXPECT_CONTAINS(error_of(std::string(kMinimal) + "[lora]\ntarget_modules = \"q_proj\"\n"),
                  "lora.target_modules: expected an array of strings");
  EXPECT_CONTAINS(error_of(std::string(kMinimal) + "[lora]\ntarget_modules = [\"q_proj\", 3]\n"),
                  "lora.target_modules[1]: expected a string, got an integer");
  EXPECT_CONTAINS(error_of(std::string("sample = 3\n") + kMinimal), "sample: expected a table, got an integer");
}

TEST(ConfigErrors, OutOfRange) {
  const std::string base(kMinimal);
  EXPECT_CONTAINS(error_of(base + "[lora]\nr = 0\n"), "lora.r: must be");
  EXPECT_CONTAINS(error_of(base + "[lora]\ndropout = 1.0\n"), "lora.dropout: must be in [0, 1)");
  EXPECT_CONTAINS(error_of(base + "[lora]\ndropout = -0.1\n"), "lora.dropout");
  EXPECT_CONTAINS(error_of(base + "[sample]\nbeta = 0.0\n"), "sample.beta: must be in (0, 1]");
  EXPECT_CONTAINS(error_of(base + "[sample]\nbeta = 1.5\n"), "sample.beta");
  EXPECT_CONTAINS(error_of(base + "[sample]\nkl_threshold = nan\n"), "sample.kl_threshold: must be finite");
  EXPECT_CONTAINS(error_of(base + "[sample]\nkl_threshold = inf\n"), "sample.kl_threshold: must be finite");
  EXPECT_CONTAINS(error_of(base + "[sample]\nkl_threshold = -1.0\n"), "sample.kl_threshold");
  EXPECT_CONTAINS(error_of(base + "[sample]\nk = 0\n"), "sample.k: must be");
  EXPECT_CONTAINS(error_of(base + "[train]\nlr = 0.0\n"), "train.lr: must be in (0, inf)");
  EXPECT_CONTAINS(error_of(base + "[train]\nlr = -1e-5\n"), "train.lr");
  EXPECT_CONTAINS(error_of(base + "[train]\nschedule = \"cosine\"\n"), "train.schedule: must be one of");
  EXPECT_CONTAINS(error_of(base + "[train]\nwarmup_steps = 2000\n"), "train.warmup_steps");
  EXPECT_CONTAINS(error_of(base + "[run]\ndtype = \"float64\"\n"), "run.dtype: must be one of");
  EXPECT_CONTAINS(error_of(base + "[run]\ndevice = \"tpu\"\n"), "run.device");
  EXPECT_CONTAINS(error_of(base + "[eval]\ndatasets = [\"gsm9k\"]\n"), "eval.datasets[0]: unknown dataset \"gsm9k\"");
  EXPECT_CONTAINS(error_of(base + "[eval]\ndatasets = []\n"), "eval.datasets: must list at least one");
  EXPECT_CONTAINS(error_of(base + "[eval]\ndatasets = [{name = \"mine\"}]\n"), "eval.datasets[0].file: required");
  EXPECT_CONTAINS(error_of(base + "[eval]\ndatasets = [\"gsm8k\", \"gsm8k\"]\n"), "listed twice");
  EXPECT_CONTAINS(error_of(base + "[sample]\nstop_ids = [-1]\n"), "sample.stop_ids[0]");
  EXPECT_CONTAINS(error_of(base + "[prompt]\ntemplate = \"no question here\"\n"), "prompt.template: must contain");
  EXPECT_CONTAINS(error_of(base + "[models.tiny]\nheads = 4\nkv_heads = 3\n"), "models.tiny.kv_heads: must divide");
}

TEST(ConfigErrors, ModelsAreRequiredUnlessTiny) {
  EXPECT_CONTAINS(error_of("[models]\namateur = \"a\"\n"), "models.expert: required");
  TempDir d;
  EXPECT_NO_THROW(load_config(d.write("c.toml", "[models]\nmake_tiny = true\n")));
}

TEST(ConfigErrors, AllProblemsAreReportedTogether) {
  const std::string m = error_of(std::string(kMinimal) + "[lora]\nr = 0\ndropout = 2.0\n");
  EXPECT_CONTAINS(m, "lora.r");
  EXPECT_CONTAINS(m, "lora.dropout");
}

TEST(ConfigErrors, SyntaxErrorGivesLine) {
  const std::string m = error_of(std::string(kMinimal) + "[lora]\nr = = 3\n");
  EXPECT_CONTAINS(m, "c.toml:5:");
  EXPECT_CONTAINS(m, "TOML syntax error");
}

TEST(ConfigErrors, MissingFile) {
  EXPECT_THROW(load_config("/nonexistent/lr/config.toml"), ConfigError);
}

// ---- overrides -----------------------------------------------------------------

TEST(ConfigOverrides, WinOverTheFile) {
  TempDir d;
  const std::string f = d.write("c.toml", std::string(kMinimal) + "[sample]\nkl_threshold = 0.3\n");
  const ExperimentConfig c = load_config(
      f, {"sample.kl_threshold=0.5", "lora.target_modules=[\"q_proj\",\"k_proj\"]", "run.device=cpu",
          "run.dtype=\"float32\"", "train.packed=true", "lora.r = 16", "eval.datasets=[\"svamp\",\"asdiv\"]",
          "models.tiny.heads=8"});
  EXPECT_DOUBLE_EQ(c.sample.kl_threshold, 0.5);
  EXPECT_EQ(c.lora.target_modules, (std::vector<std::string>{"q_proj", "k_proj"}));
  EXPECT_EQ(c.run.device, "cpu");
  EXPECT_EQ(c.run.dtype, "float32");
  EXPECT_TRUE(c.train.packed);
  EXPECT_EQ(c.lora.r, 16);
  ASSERT_EQ(c.eval.datasets.size(), 2u);
  EXPECT_EQ(c.eval.datasets[1].name, "asdiv");
  EXPECT_EQ(c.models.tiny.heads, 8);
}

TEST(ConfigOverrides, LastOneWins) {
  TempDir d;
  const ExperimentConfig c = load_config(d.write("c.toml", kMinimal), {"lora.r=4", "lora.r=32"});
  EXPECT_EQ(c.lora.r, 32);
}

TEST(ConfigOverrides, BareStringsWithSpacesAndEquals) {
  TempDir d;
  const ExperimentConfig c =
      load_config(d.write("c.toml", kMinimal), {"prompt.system=Think step by step.", "data.question_field=q=x"});
  EXPECT_EQ(c.prompt.system, "Think step by step.");
  EXPECT_EQ(c.data.question_field, "q=x");
  // Unquoted text for a string key stays text even when it reads as a TOML value.
  const ExperimentConfig c2 = load_config(d.write("c2.toml", kMinimal), {"run.out_dir=2024-01-01", "data.answer_field=42"});
  EXPECT_EQ(c2.run.out_dir, normal(fs::current_path() / "2024-01-01"));
  EXPECT_EQ(c2.data.answer_field, "42");
}

TEST(ConfigOverrides, UnknownKeyIsNamed) {
  EXPECT_CONTAINS(error_of(kMinimal, {"sample.kappa=0.5"}), "unknown key \"sample.kappa\"");
  EXPECT_CONTAINS(error_of(kMinimal, {"lora.rr=4"}), "unknown key \"lora.rr\" (did you mean lora.r?)");
  EXPECT_CONTAINS(error_of(kMinimal, {"lora=3"}), "unknown key \"lora\"");
}

TEST(ConfigOverrides, BadSyntax) {
  EXPECT_CONTAINS(error_of(kMinimal, {"sample.kl_threshold"}), "expected key=value");
  EXPECT_CONTAINS(error_of(kMinimal, {"=0.5"}), "is not a dotted key");
  EXPECT_CONTAINS(error_of(kMinimal, {"sample..k=3"}), "is not a dotted key");
  EXPECT_CONTAINS(error_of(kMinimal, {"lora.target_modules=[\"q_proj\""}), "lora.target_modules: cannot parse");
  EXPECT_CONTAINS(error_of(kMinimal, {"prompt.system=\"unterminated"}), "prompt.system: cannot parse");
}

TEST(ConfigOverrides, ValuesAreValidatedAndSaySet) {
  const std::string m = error_of(kMinimal, {"lora.r=0"});
  EXPECT_CONTAINS(m, "lora.r (from --set): must be");
  EXPECT_CONTAINS(error_of(kMinimal, {"sample.kl_threshold=high"}),
                  "sample.kl_threshold (from --set): expected a number, got a string");
}

TEST(ConfigOverrides, SectionThatIsNotATable) {
  EXPECT_CONTAINS(error_of(std::string("lora = 3\n") + kMinimal, {"lora.r=4"}), "lora is not a table");
}

// ---- paths -----------------------------------------------------------------------

TEST(ConfigPaths, RelativeToTheConfigFolder) {
  TempDir d;
  const std::string f = d.write("sub/dir/c.toml",
                                "[models]\nexpert = \"../models/E\"\namateur = \"/abs/A\"\n"
                                "[models.tiny]\ntokenizer = \"tok/tokenizer.json\"\n"
                                "[data]\ntrain_file = \"data/train.jsonl\"\nbundled_dir = \"bundle\"\n"
                                "[eval]\ndatasets = [\"gsm8k\", {name = \"mine\", file = \"mine.jsonl\", "
                                "question_field = \"q\", answer_field = \"a\"}]\n"
                                "[run]\nout_dir = \"out\"\n");
  const fs::path dir = fs::path(d.path()) / "sub/dir";
  const ExperimentConfig c = load_config(f);
  EXPECT_EQ(c.models.expert, normal(fs::path(d.path()) / "sub/models/E"));
  EXPECT_EQ(c.models.amateur, "/abs/A");
  EXPECT_EQ(c.models.tiny.tokenizer, normal(dir / "tok/tokenizer.json"));
  EXPECT_EQ(c.data.train_file, normal(dir / "data/train.jsonl"));
  EXPECT_EQ(c.data.bundled_dir, normal(dir / "bundle"));
  EXPECT_EQ(c.eval.datasets[0].file, normal(dir / "bundle/gsm8k/test.jsonl"));
  EXPECT_EQ(c.eval.datasets[1].file, normal(dir / "mine.jsonl"));
  EXPECT_EQ(c.eval.datasets[1].question_field, "q");
  EXPECT_EQ(c.eval.datasets[1].answer_field, "a");
  // out_dir: an output, relative to the working directory.
  EXPECT_EQ(c.run.out_dir, normal(fs::current_path() / "out"));
}

TEST(ConfigPaths, OverriddenPathsAlsoResolveAgainstTheConfigFolder) {
  TempDir d;
  const std::string f = d.write("cfg/c.toml", kMinimal);
  const ExperimentConfig c = load_config(f, {"models.expert=../E"});
  EXPECT_EQ(c.models.expert, normal(fs::path(d.path()) / "E"));
}

TEST(ConfigPaths, BundledDirFromEnvironment) {
  TempDir d;
  const std::string f = d.write("c.toml", kMinimal);
  ::setenv("LR_DATA_DIR", "/somewhere/data", 1);
  const ExperimentConfig c = load_config(f);
  ::unsetenv("LR_DATA_DIR");
  EXPECT_EQ(c.data.bundled_dir, "/somewhere/data");
  EXPECT_EQ(c.data.train_file, "/somewhere/data/gsm8k/train.jsonl");
}

// ---- to_toml ----------------------------------------------------------------------

void expect_round_trip(const ExperimentConfig& c) {
  TempDir d;
  const std::string text = to_toml(c);
  const ExperimentConfig back = load_config(d.write("effective.toml", text));
  EXPECT_TRUE(back == c) << text;
  // And again: the text is a fixed point.
  const std::string again = to_toml(back);
  EXPECT_EQ(again.substr(again.find("\n[run]")), text.substr(text.find("\n[run]")));
}

TEST(ConfigToToml, RoundTripsThePaperConfig) { expect_round_trip(load_config(paper())); }

TEST(ConfigToToml, RoundTripsTheTinyConfig) { expect_round_trip(load_config(tiny())); }

TEST(ConfigToToml, RoundTripsOddValues) {
  TempDir d;
  const ExperimentConfig c = load_config(
      d.write("c.toml", std::string(kMinimal) +
                            "[prompt]\nsystem = \"quotes \\\" and \\\\ backslash, tab\\t, unicode \u00e9\"\n"
                            "[sample]\nkl_threshold = 0.1234567890123\nstop_ids = [151645, 7]\nbeta = 1e-3\n"
                            "[train]\nlr = 3.3e-7\n"
                            "[eval]\ndatasets = [\"mmlu_stem\", {name = \"mine\", file = \"m.jsonl\", "
                            "question_field = \"q\", answer_field = \"a\", context_field = \"ctx\"}]\n"));
  expect_round_trip(c);
  EXPECT_DOUBLE_EQ(c.sample.kl_threshold, 0.1234567890123);
}

TEST(ConfigToToml, ChangedValueIsNotEqual) {
  const ExperimentConfig a = load_config(paper());
  ExperimentConfig b = a;
  EXPECT_TRUE(a == b);
  b.sample.beta = 0.3;
  EXPECT_FALSE(a == b);
  b = a;
  b.eval.datasets[2].answer_field = "x";
  EXPECT_FALSE(a == b);
}
