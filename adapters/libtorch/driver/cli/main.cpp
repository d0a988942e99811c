// lightreasoner: the reference driver. One verb per file in this folder
// (--version: version_flag.cpp):
//   tokenize         text -> Qwen2 token ids (stdin JSON strings)
//   generate         continue prompts with a checkpoint
//   make-tiny-model  write a random Qwen2 checkpoint (the tests' fixture)
//   make-task        write the synthetic task's splits (the miniature)
//   grade            extract and grade answers (stdin JSON objects)
//   pretrain, sample, diagnose, train, eval, sft, run, report
//                    the experiment's stages from a TOML config (config_verb.h;
//                    the stages themselves are in ../stages/, the report in ../report/)
//   sweep            variants x seeds
//   launch           N local ranks of a stage (../distributed/launcher.h)
#include <exception>
#include <iostream>
#include <string>

#include "commands.h"
#include "io/whole_io.h"

int main(int argc, char** argv) {
  using namespace lr::driver::cli;
  CLI::App app{"lightreasoner: the LightReasoner reference driver (Qwen2 checkpoints, tokenizer, generation)",
               "lightreasoner"};
  app.require_subcommand(1);
  // One clear line for any usage error (CLI11's default adds a second line).
  app.failure_message([](const CLI::App* failed, const CLI::Error& e) {
    std::string where = failed->get_parent() ? "lightreasoner " + failed->get_name() : "lightreasoner";
    return where + ": " + e.what() + " (see " + where + " --help)\n";
  });
  add_version_flag(app);
  add_tokenize_command(app);
  add_generate_command(app);
  add_make_tiny_model_command(app);
  add_make_task_command(app);
  add_grade_command(app);
  add_pretrain_command(app);
  add_sample_command(app);
  add_diagnose_command(app);
  add_train_command(app);
  add_eval_command(app);
  add_sft_command(app);
  add_run_command(app);
  add_report_command(app);
  add_sweep_command(app);
  add_launch_command(app);
  try {
    app.parse(argc, argv);
  } catch (const VerbExit& e) {
    return e.status;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  } catch (const std::exception& e) {
    // Runtime failures from the verbs: one line, naming what went wrong.
    lr::driver::say_to_stderr(std::string("lightreasoner: ") + e.what() + "\n");  // ranks may fail together
    return kExitFailure;
  }
  return 0;
}
