// Every file and folder of a run folder (run.out_dir), named once. The stages
// write them, `run` checks them, the report reads them.
//
//   config.toml                  the effective configuration (sample)
//   supervision.jsonl            stage 1's records (sample/FORMAT.md)
//   supervision.stats.json       its statistics
//   diagnostics.json             what explains a result (diagnose; its settings inside)
//   train/                       the trainer's checkpoint, inputs.json, complete.json
//   adapter/                     the LightReasoner LoRA adapter (PEFT)
//   merged/                      the expert with the adapter merged in (train.export_merged)
//   train_metrics.jsonl          one line per update
//   eval/<model>/<dataset>.jsonl one line per problem; summary.json, settings.json beside;
//                                <dataset>.timing.jsonl its generation times (timing_of)
//   sft/                         trajectories.jsonl (+ trajectories.timing.jsonl), train/,
//                                train_metrics.jsonl, adapter/, summary.json, settings.json
//   shards/, eval/<model>/shards/, sft/shards/
//                                a sharded stage's parts while it runs: NAME.rankR-of-W.EXT
//                                per rank (shard_of), merged into NAME.EXT and removed
//   stage_seconds.json           wall time per stage, summed over calls
//   models/                      the tiny models' fallback tokenizer (models.make_tiny);
//                                with models.pretrain: expert/, amateur/, expert-general/ (the
//                                expert after the general mix), pretrain-tokenizer/, and .pretrain/
//                                (random starting points and resumable trainer checkpoints)
//   logs/<verb>.log              each verb's stderr
//   report.md, plots/            the report and its plots
//   sweep/base/                  `sweep`: the base expert's evaluation (a run folder)
//   sweep/<variant>/seed-<s>/    `sweep`: one run folder per variant and seed
//   sweep.md, sweep.json         `sweep`: the table over variants and seeds
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lr::driver {

class RunLayout {
 public:
  using path = std::filesystem::path;
  explicit RunLayout(path root) : root_(std::move(root)) {}

  const path& root() const { return root_; }
  path config() const { return root_ / "config.toml"; }
  path supervision() const { return root_ / "supervision.jsonl"; }
  path supervision_stats() const { return root_ / "supervision.stats.json"; }
  path diagnostics() const { return root_ / "diagnostics.json"; }
  path train_dir() const { return root_ / "train"; }
  path train_inputs() const { return train_dir() / "inputs.json"; }
  path train_complete() const { return train_dir() / "complete.json"; }
  path adapter() const { return root_ / "adapter"; }
  path merged() const { return root_ / "merged"; }
  path train_metrics() const { return root_ / "train_metrics.jsonl"; }

  path eval_dir(const std::string& model) const { return root_ / "eval" / model; }
  path eval_results(const std::string& model, const std::string& dataset) const {
    return eval_dir(model) / (dataset + ".jsonl");
  }
  path eval_summary(const std::string& model) const { return eval_dir(model) / kSummary; }

  path sft_dir() const { return root_ / "sft"; }
  path sft_trajectories() const { return sft_dir() / "trajectories.jsonl"; }
  path sft_train_dir() const { return sft_dir() / "train"; }
  path sft_metrics() const { return sft_dir() / "train_metrics.jsonl"; }
  path sft_adapter() const { return sft_dir() / "adapter"; }
  path sft_summary() const { return sft_dir() / kSummary; }

  path stage_seconds() const { return root_ / "stage_seconds.json"; }
  path tiny_tokenizer() const { return root_ / "models" / "tiny-tokenizer"; }
  path pretrained_expert() const { return root_ / "models" / "expert"; }
  path pretrained_amateur() const { return root_ / "models" / "amateur"; }
  path pretrained_expert_general() const { return root_ / "models" / "expert-general"; }
  path pretrain_tokenizer() const { return root_ / "models" / "pretrain-tokenizer"; }
  path pretrain_state(const std::string& model) const { return root_ / "models" / ".pretrain" / model; }
  path logs_dir() const { return root_ / "logs"; }
  path log(const std::string& verb) const { return logs_dir() / (verb + ".log"); }
  path report() const { return root_ / "report.md"; }
  path plots_dir() const { return root_ / "plots"; }

  path sweep_dir() const { return root_ / "sweep"; }
  path sweep_base() const { return sweep_dir() / "base"; }
  path sweep_run(const std::string& variant, int64_t seed) const {
    return sweep_dir() / variant / ("seed-" + std::to_string(seed));
  }
  path sweep_table() const { return root_ / "sweep.md"; }
  path sweep_json() const { return root_ / "sweep.json"; }

  // The generation times of a results file (evaluate/batch_timing.h):
  // DIR/NAME.jsonl -> DIR/NAME.timing.jsonl.
  static path timing_of(const path& results) {
    return results.parent_path() / (results.stem().string() + ".timing" + results.extension().string());
  }

  // Sharded stages (distributed/sharding.h): rank R of W writes its part of
  // DIR/NAME.EXT as DIR/shards/NAME.rankR-of-W.EXT; rank 0 merges the parts
  // into DIR/NAME.EXT and removes them.
  static path shard_of(const path& file, int rank, int world) {
    return shards_dir_of(file) /
           (file.stem().string() + ".rank" + std::to_string(rank) + "-of-" + std::to_string(world) +
            file.extension().string());
  }
  static path shards_dir_of(const path& file) { return file.parent_path() / "shards"; }
  struct ShardFile {
    path file;
    int rank = 0, world = 0;
  };
  // Every part of `file` on disk, whatever its world size, by name.
  static std::vector<ShardFile> shards_of(const path& file) {
    std::vector<ShardFile> out;
    std::error_code ec;
    const std::string head = file.stem().string() + ".rank", tail = file.extension().string();
    for (const auto& e : std::filesystem::directory_iterator(shards_dir_of(file), ec)) {
      const std::string n = e.path().filename().string();
      if (n.size() <= head.size() + tail.size() || n.compare(0, head.size(), head) != 0 ||
          n.compare(n.size() - tail.size(), tail.size(), tail) != 0)
        continue;
      int r = -1, w = -1;
      char end = 0;
      const std::string mid = n.substr(head.size(), n.size() - head.size() - tail.size());
      if (std::sscanf(mid.c_str(), "%d-of-%d%c", &r, &w, &end) == 2 && r >= 0 && w > r &&
          mid == std::to_string(r) + "-of-" + std::to_string(w))
        out.push_back({e.path(), r, w});
    }
    std::sort(out.begin(), out.end(), [](const ShardFile& a, const ShardFile& b) { return a.file < b.file; });
    return out;
  }

  // The files of a PEFT adapter folder (adapter/, sft/adapter/).
  static constexpr const char* kAdapterConfig = "adapter_config.json";
  static constexpr const char* kAdapterWeights = "adapter_model.safetensors";
  static bool has_adapter(const path& dir) {
    return std::filesystem::exists(dir / kAdapterConfig) && std::filesystem::exists(dir / kAdapterWeights);
  }

 private:
  static constexpr const char* kSummary = "summary.json";
  path root_;
};

}  // namespace lr::driver
