// lightreasoner make-task --out DIR [--seed S]: the miniature's splits of the
// synthetic task (pretrain/task_splits.h) as DIR/{train,val,test}.jsonl;
// configs/miniature/ holds them as made with the default seed.
#include <iostream>
#include <memory>

#include "commands.h"
#include "config/defaults.h"
#include "pretrain/task_splits.h"

namespace lr::driver::cli {

void add_make_task_command(CLI::App& app) {
  struct Options {
    std::string out;
    uint64_t seed = uint64_t(defaults::pretrain::task_seed);
    TaskSplitSizes sizes;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "make-task", "Write the synthetic task's splits (word problems in GSM8K's format): DIR/train.jsonl, "
                   "val.jsonl, test.jsonl, pairwise disjoint");
  cmd->add_option("--out", o->out, "output folder")->required();
  cmd->add_option("--seed", o->seed, "the problems' seed")->capture_default_str();
  cmd->add_option("--train", o->sizes.train, "stage-1 problems")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--val", o->sizes.val, "validation problems")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--test", o->sizes.test, "test problems")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->callback([o] {
    write_task_splits(o->out, make_task_splits(o->seed, o->sizes));
    std::cerr << "make-task: wrote " << o->out << "/{train,val,test}.jsonl\n";
  });
}

}  // namespace lr::driver::cli
