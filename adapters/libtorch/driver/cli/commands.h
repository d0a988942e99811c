// The verbs of the `lightreasoner` program (main.cpp lists them); each file adds one subcommand.
#pragma once

#include <CLI/CLI.hpp>

namespace lr::driver::cli {

// Exit codes: 0 success, 1 a failure while running (bad file, bad input
// line, a stage stopped by Ctrl-C), 2 a usage error (bad flag).
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Thrown by a verb that ends with an exit status of its own (launch: the
// failed rank's); main returns it.
struct VerbExit {
  int status;
};

// --version (version_flag.cpp): library, LibTorch and BLAS versions.
void add_version_flag(CLI::App& app);

void add_tokenize_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_make_tiny_model_command(CLI::App& app);
void add_make_task_command(CLI::App& app);
void add_pretrain_command(CLI::App& app);
void add_grade_command(CLI::App& app);
void add_sample_command(CLI::App& app);
void add_diagnose_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_sft_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
// launch: N local ranks of a verb (after the verbs it may start are added).
void add_launch_command(CLI::App& app);

}  // namespace lr::driver::cli
