// models.pretrain = true: the miniature's models trained from scratch on the
// synthetic task (pretrain/README.md): the tokenizer, the amateur (the
// general mix), the expert (the general mix, then the chains) and, from the
// expert's run, expert-general (the expert after the general mix: a generalist
// of the expert's size). Each folder appears whole (model_folders.h) with a
// record of the settings that made it; the trainer's checkpoints under
// RUN/models/.pretrain/<model>/ let a killed run go on where it stopped.
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_set>

#include "checkpoint/tiny_model.h"
#include "io/file_digest.h"
#include "io/json_files.h"
#include "io/run_layout.h"
#include "pretrain/pretrainer.h"
#include "prompt/chat_prompt.h"
#include "runtime/interrupt.h"
#include "sample/problems.h"
#include "stages/model_folders.h"
#include "stages/pretrained_models.h"
#include "stages/stage.h"
#include "tokenizer/small_bpe.h"

namespace lr::driver {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const FolderMarker kMarker{"lightreasoner_pretrain.json", "models.pretrain", "[pretrain]"};
constexpr int64_t kTokenizerSample = 4000;  // documents the BPE learns from

// The questions the corpus must never contain: stage 1's and every eval set's.
std::unordered_set<std::string> held_out_questions(const ExperimentConfig& c) {
  std::unordered_set<std::string> out;
  for (Problem& p : read_problems(c.data.train_file, c.data.question_field, "")) out.insert(std::move(p.question));
  for (const EvalDataset& d : c.eval.datasets)
    for (Problem& p : read_problems(d.file, d.question_field, "")) out.insert(std::move(p.question));
  return out;
}

// What every model depends on: the corpus, the tokenizer, the prompt, the optimiser.
json common_settings(const ExperimentConfig& c) {
  const PretrainConfig& p = c.pretrain;
  json held_out = json::array();
  held_out.push_back(file_digest(c.data.train_file));
  for (const EvalDataset& d : c.eval.datasets) held_out.push_back(file_digest(d.file));
  return {{"task_seed", p.task_seed}, {"init_seed", p.init_seed}, {"vocab", p.vocab},
          {"heads", p.heads},         {"kv_heads", p.kv_heads},   {"batch_size", p.batch_size},
          {"seq_len", p.seq_len},     {"lr", p.lr},               {"warmup_steps", p.warmup_steps},
          {"template", c.prompt.templ}, {"system", c.prompt.system}, {"held_out", held_out}};
}

DocumentEncoder encoder_for(const ExperimentConfig& c, const Tokenizer& tokenizer) {
  return DocumentEncoder(tokenizer, c.prompt.templ, c.prompt.system, c.pretrain.seq_len);
}

// The small BPE learnt from a sample of the corpus (prompt included).
fs::path ensure_pretrain_tokenizer(const ExperimentConfig& c, const PretrainCorpus& corpus) {
  const fs::path dir = RunLayout(c.run.out_dir).pretrain_tokenizer();
  const json want = {{"vocab", c.pretrain.vocab}, {"task_seed", c.pretrain.task_seed},
                     {"template", c.prompt.templ}, {"system", c.prompt.system}};
  remove_stale_scratch(dir);
  if (folder_holds(dir, want, "pretrain.vocab", kMarker)) return dir;
  std::cerr << "pretrain: learning a " << c.pretrain.vocab << "-token byte-level BPE from the corpus\n";
  std::vector<std::string> texts;
  for (const WordProblem& p : corpus.tokenizer_sample(kTokenizerSample))
    texts.push_back(render_prompt(c.prompt.templ, c.prompt.system, p.question) + p.answer);
  const fs::path tmp = scratch_for(dir);
  write_small_bpe_tokenizer(tmp.string(), texts, int32_t(c.pretrain.vocab));
  write_json_atomically((tmp / kMarker.file).string(), want);
  publish_folder(tmp, dir);
  return dir;
}


// The random starting point's shape (write_tiny_qwen2), the tokenizer's vocabulary.
TinyModelOptions shape_of(const ExperimentConfig& c, int64_t layers, int64_t hidden, const fs::path& tokenizer) {
  TinyModelOptions o;
  o.layers = layers;
  o.hidden = hidden;
  o.heads = c.pretrain.heads;
  o.kv_heads = c.pretrain.kv_heads;
  o.vocab_from = tokenizer.string();
  o.seed = uint64_t(c.pretrain.init_seed);
  o.endoftext_first = true;  // the documents end with <|endoftext|> (pretrain/documents.h)
  return o;
}

TrainOptions pretrain_options(const ExperimentConfig& c, int64_t total, const fs::path& state) {
  TrainOptions o;
  o.learning_rate = c.pretrain.lr;
  o.weight_decay = defaults::train::weight_decay;
  o.max_grad_norm = defaults::train::grad_clip;
  o.warmup_updates = c.pretrain.warmup_steps;
  o.schedule = "linear";
  o.batch_size = c.pretrain.batch_size;
  o.grad_accum = 1;
  o.samples_per_pass = o.batch_size;  // rank 0 alone pretrains: no shares, the fastest passes
  o.total_updates = total;
  o.max_seq_len = c.pretrain.seq_len;
  o.shuffle_seed = uint64_t(c.pretrain.init_seed);
  o.checkpoint_every = c.pretrain.checkpoint_every;
  o.checkpoint_dir = state.string();
  o.stop = &InterruptScope::flag();
  return o;
}

// RUN/models/.pretrain/<model>/: the trainer's checkpoints for the settings
// `want` (others' are scratch and go), and the random starting point, written
// again each time (the same seed gives the same weights).
std::string prepare_state(const fs::path& state, const json& want, TinyModelOptions shape) {
  const fs::path settings = state / "settings.json";
  if (fs::exists(state) && read_json_file(settings.string()) != std::optional<json>(want)) fs::remove_all(state);
  fs::create_directories(state);
  write_json_atomically(settings.string(), want);
  shape.out_dir = (state / "init").string();
  write_tiny_qwen2(shape);
  return shape.out_dir;
}

// A complete Hugging Face folder: the starting point's config, generation
// config and tokenizer files, the trained weights, the marker; then renamed into place.
void write_model_folder(const fs::path& dir, TinyModelOptions shape, const Qwen2Model& model, const json& want) {
  std::cerr << "pretrain: writing " << dir.string() << "\n";
  remove_stale_scratch(dir);
  const fs::path tmp = scratch_for(dir);
  shape.out_dir = tmp.string();
  write_tiny_qwen2(shape);
  save_weights(model, (tmp / "model.safetensors").string());
  write_json_atomically((tmp / kMarker.file).string(), want);
  publish_folder(tmp, dir);
}

json with(json settings, const json& more) {
  settings.update(more);
  return settings;
}

struct Context {
  const ExperimentConfig& c;
  const PretrainCorpus& corpus;
  const DocumentEncoder& encoder;
  fs::path tokenizer;
  json common;
};

// The amateur: general_steps on the general mix. False when stopped.
bool ensure_amateur(const Context& x) {
  const PretrainConfig& p = x.c.pretrain;
  const fs::path dir = x.c.models.amateur;
  const json want = with(x.common, {{"model", "amateur"}, {"layers", p.amateur_layers},
                                    {"hidden", p.amateur_hidden}, {"general_steps", p.general_steps}});
  remove_stale_scratch(dir);
  if (folder_holds(dir, want, "models.amateur", kMarker)) return true;
  const TinyModelOptions shape = shape_of(x.c, p.amateur_layers, p.amateur_hidden, x.tokenizer);
  const fs::path state = RunLayout(x.c.run.out_dir).pretrain_state("amateur");
  PretrainPlan plan{"amateur", prepare_state(state, want, shape), pretrain_options(x.c, p.general_steps, state),
                    {{p.general_steps, CorpusPhase::general, nullptr}}};
  const std::optional<Qwen2Model> model = pretrain_model(plan, x.corpus, x.encoder);
  if (!model) return false;
  write_model_folder(dir, shape, *model, want);
  fs::remove_all(state);
  return true;
}

// The expert: the general mix, then the chains; expert-general written
// between the two. False when stopped.
bool ensure_expert(const Context& x) {
  const PretrainConfig& p = x.c.pretrain;
  const RunLayout run(x.c.run.out_dir);
  const fs::path dir = x.c.models.expert, general_dir = run.pretrained_expert_general();
  const json want_general =
      with(x.common, {{"model", "expert-general"}, {"layers", p.expert_layers}, {"hidden", p.expert_hidden},
                      {"general_steps", p.general_steps}, {"chain_steps", p.chain_steps}});
  const json want = with(want_general, {{"model", "expert"}, {"chain_fraction", p.chain_fraction}});
  remove_stale_scratch(dir);
  remove_stale_scratch(general_dir);
  const bool have_general = folder_holds(general_dir, want_general, "expert-general", kMarker);
  if (folder_holds(dir, want, "models.expert", kMarker) && have_general) return true;
  const TinyModelOptions shape = shape_of(x.c, p.expert_layers, p.expert_hidden, x.tokenizer);
  const fs::path state = run.pretrain_state("expert");
  const auto write_general = [&](const Qwen2Model& m) {
    if (!folder_holds(general_dir, want_general, "expert-general", kMarker))
      write_model_folder(general_dir, shape, m, want_general);
  };
  const int64_t total = p.general_steps + p.chain_steps;
  PretrainPlan plan{"expert", prepare_state(state, want, shape), pretrain_options(x.c, total, state),
                    {{p.general_steps, CorpusPhase::general, write_general}, {total, CorpusPhase::chains, nullptr}}};
  const std::optional<Qwen2Model> model = pretrain_model(plan, x.corpus, x.encoder);
  if (!model) return false;
  if (!folder_holds(general_dir, want_general, "expert-general", kMarker))
    throw std::runtime_error("pretrain: " + general_dir.string() + " is missing and the expert's checkpoint in " +
                             state.string() + " is past the general mix; remove that folder to pretrain again");
  write_model_folder(dir, shape, *model, want);
  fs::remove_all(state);
  return true;
}

}  // namespace

int ensure_pretrained_models(const ExperimentConfig& c) {
  if (!c.models.pretrain) return 0;
  InterruptScope interrupt;
  const PretrainCorpus corpus(uint64_t(c.pretrain.task_seed), c.pretrain.chain_fraction, held_out_questions(c));
  const fs::path tokenizer_dir = ensure_pretrain_tokenizer(c, corpus);
  const Tokenizer tokenizer = Tokenizer::from_file((tokenizer_dir / "tokenizer.json").string(),
                                                   (tokenizer_dir / "tokenizer_config.json").string());
  const DocumentEncoder encoder = encoder_for(c, tokenizer);
  const Context x{c, corpus, encoder, tokenizer_dir, common_settings(c)};
  if (!ensure_amateur(x) || !ensure_expert(x)) {
    std::cerr << "pretrain: interrupted; the same command resumes\n";
    return kExitInterrupted;
  }
  return 0;
}

}  // namespace lr::driver
