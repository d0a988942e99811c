// models.make_tiny = true: the random tiny expert and amateur of the smoke run
// (and the small tokenizer they use when [models.tiny] names none).
//
// Each folder is written whole under a temporary name and renamed into place
// last, with a record of the settings that made it (lightreasoner_tiny.json),
// so a kill leaves either no folder or a complete one, and a later run knows
// whether what it finds is what the config asks for. On the ranks of a group
// rank 0 alone writes them (two ranks renaming folders into the same place,
// or removing each other's scratch folders, would fail) while the others wait.
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "checkpoint/tiny_model.h"
#include "distributed/process_group.h"
#include "io/json_files.h"
#include "io/run_layout.h"
#include "sample/problems.h"
#include "stages/model_folders.h"
#include "stages/stage.h"
#include "tokenizer/small_bpe.h"

namespace lr::driver {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kMarker = "lightreasoner_tiny.json";
constexpr int32_t kFallbackTokenizerVocab = 1024;

const FolderMarker kTinyMarker{kMarker, "models.make_tiny", "[models.tiny]"};

bool present(const fs::path& dir, const json& want, const std::string& key) {
  return folder_holds(dir, want, key, kTinyMarker);
}

// The texts the fallback tokenizer learns from: the training problems'
// questions and answers, and the prompt's fixed text.
std::vector<std::string> tokenizer_corpus(const ExperimentConfig& c) {
  std::vector<std::string> texts;
  for (Problem& p : read_problems(c.data.train_file, c.data.question_field, c.data.answer_field)) {
    texts.push_back(std::move(p.question));
    texts.push_back(std::move(p.answer));
  }
  texts.push_back(c.prompt.system);
  return texts;
}

fs::path tiny_tokenizer_dir(const ExperimentConfig& c) {
  if (!c.models.tiny.tokenizer.empty()) return c.models.tiny.tokenizer;
  return RunLayout(c.run.out_dir).tiny_tokenizer();
}

// The tokenizer: the configured one, or the fallback learnt from the data.
fs::path ensure_tiny_tokenizer(const ExperimentConfig& c) {
  const TinyModelsConfig& t = c.models.tiny;
  const fs::path tokenizer = tiny_tokenizer_dir(c);
  if (!t.tokenizer.empty()) {
    if (!fs::exists(fs::is_directory(tokenizer) ? tokenizer / "tokenizer.json" : tokenizer))
      throw std::runtime_error(c.source + ": models.tiny.tokenizer: " + tokenizer.string() + " has no tokenizer.json");
    return tokenizer;
  }
  int32_t vocab = kFallbackTokenizerVocab;
  if (t.vocab > 0 && t.vocab < vocab) vocab = int32_t(t.vocab);
  if (vocab < 259)
    throw std::runtime_error(c.source + ": models.tiny.vocab = " + std::to_string(t.vocab) +
                             " is too small for the fallback tokenizer (at least 259: 256 bytes and 3 special "
                             "tokens); set it to 0 or name a tokenizer in models.tiny.tokenizer");
  const json want = {{"fallback_tokenizer", 1}, {"vocab", vocab}, {"train_file", c.data.train_file},
                     {"system", c.prompt.system}};
  remove_stale_scratch(tokenizer);
  if (present(tokenizer, want, "models.tiny.tokenizer")) return tokenizer;
  std::cerr << "make-tiny: learning a " << vocab << "-token byte-level BPE tokenizer from " << c.data.train_file
            << "\n";
  const fs::path tmp = scratch_for(tokenizer);
  write_small_bpe_tokenizer(tmp.string(), tokenizer_corpus(c), vocab);
  write_json_atomically((tmp / kMarker).string(), want);
  publish_folder(tmp, tokenizer);
  return tokenizer;
}

struct TinyModel {
  std::string key, dir;
  int64_t layers, hidden, seed;
  double init_std;
};

// One random model, unless its folder already holds it.
void ensure_tiny_model(const TinyModelsConfig& t, const TinyModel& m, const fs::path& tokenizer) {
  TinyModelOptions o;
  o.layers = m.layers;
  o.hidden = m.hidden;
  o.heads = t.heads;
  o.kv_heads = t.kv_heads;
  o.vocab = t.vocab;
  o.vocab_from = tokenizer.string();
  o.seed = uint64_t(m.seed);
  o.init_std = m.init_std;
  const json want = {{"layers", o.layers},     {"hidden", o.hidden}, {"heads", o.heads},
                     {"kv_heads", o.kv_heads}, {"vocab", o.vocab},   {"seed", m.seed},
                     {"init_std", o.init_std}, {"tokenizer", o.vocab_from}};
  const fs::path dir(m.dir);
  remove_stale_scratch(dir);
  if (present(dir, want, m.key)) return;
  std::cerr << "make-tiny: writing a random " << m.layers << "-layer, " << m.hidden << "-wide Qwen2 at " << m.dir
            << "\n";
  const fs::path tmp = scratch_for(dir);
  o.out_dir = tmp.string();
  write_tiny_qwen2(o);
  write_json_atomically((tmp / kMarker).string(), want);
  publish_folder(tmp, dir);
}

void write_tiny_models(const ExperimentConfig& c) {
  const TinyModelsConfig& t = c.models.tiny;
  const fs::path tokenizer = ensure_tiny_tokenizer(c);
  // The expert's weights are drawn wider than the amateur's so that their
  // next-token distributions differ enough for steps to pass kappa.
  ensure_tiny_model(t, {"models.expert", c.models.expert, t.expert_layers, t.expert_hidden, t.expert_seed, 0.6},
                    tokenizer);
  ensure_tiny_model(t, {"models.amateur", c.models.amateur, t.amateur_layers, t.amateur_hidden, t.amateur_seed, 0.3},
                    tokenizer);
}

}  // namespace

void ensure_tiny_models(const ExperimentConfig& c) {
  if (!c.models.make_tiny) return;
  if (dist::rank() == 0) write_tiny_models(c);
  dist::barrier("tiny models");
}

}  // namespace lr::driver
