// lightreasoner generate --model DIR [--max-new-tokens N] [--greedy | --temperature T --top-p P --seed S] [--ids]
// stdin: one JSON string (a prompt, used verbatim) per line; stdout: per line
// the completion as a JSON string, or with --ids the JSON array of generated ids.
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <stdexcept>

#include "commands.h"
#include "model/generate.h"
#include "io/stdin_json_lines.h"
#include "runtime/model_loading.h"
#include "checkpoint/model_config.h"
#include "runtime/progress.h"
#include "model/qwen2_model.h"
#include "tokenizer/tokenizer.h"

namespace lr::driver::cli {

namespace {

struct GenerateArgs {
  std::string model_dir;
  GenerateOptions generation;  // its defaults are generate()'s; greedy is decided from the flags given
  bool ids = false;
  std::string dtype = "float32";
  std::string device = "cpu";
};

void run_generate(const GenerateArgs& args) {
  const Tokenizer tokenizer = tokenizer_in(args.model_dir);
  const Qwen2Model model =
      Qwen2Model::load(args.model_dir, device_from(args.device, "--device"), dtype_from(args.dtype));
  const std::vector<std::string> prompts = read_json_string_lines(std::cin);

  std::vector<std::vector<int64_t>> prompt_ids;
  prompt_ids.reserve(prompts.size());
  for (const std::string& p : prompts) {
    const std::vector<int32_t> ids = tokenizer.encode(p);
    prompt_ids.emplace_back(ids.begin(), ids.end());
  }
  GenerateOptions opts = args.generation;
  opts.stop_ids = stop_ids_for(args.model_dir, model.config(), tokenizer);
  Progress progress("generate", static_cast<int64_t>(prompts.size()), "prompts");
  opts.on_progress = [&progress](int64_t done, int64_t) { progress.update(done); };
  const std::vector<std::vector<int64_t>> completions = generate(model, prompt_ids, opts);
  progress.finish();

  std::string out;
  for (const std::vector<int64_t>& ids : completions) {
    if (args.ids) {
      out += nlohmann::json(ids).dump();
    } else {
      const std::string text = tokenizer.decode(std::vector<int32_t>(ids.begin(), ids.end()), true);
      // A completion cut mid-character is not valid UTF-8: replace, don't fail.
      out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    out += '\n';
  }
  std::cout << out << std::flush;
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "generate", "Continue prompts with a Qwen2 checkpoint: one JSON string (a prompt, used verbatim) per stdin "
                  "line in, one completion per line out (a JSON string, or with --ids the generated ids)");
  cmd->add_option("--model", args->model_dir, "checkpoint folder (config.json, model.safetensors, tokenizer.json)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--max-new-tokens", args->generation.max_new_tokens, "at most this many new tokens per prompt")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  CLI::Option* greedy = cmd->add_flag("--greedy", args->generation.greedy, "greedy decoding (the default)");
  CLI::Option* temperature = cmd->add_option("--temperature", args->generation.temperature, "sampling temperature (> 0)")
      ->check(CLI::PositiveNumber);
  CLI::Option* top_p = cmd->add_option("--top-p", args->generation.top_p, "nucleus sampling mass in (0, 1]")
      ->check(CLI::Range(1e-9, 1.0));
  CLI::Option* seed = cmd->add_option("--seed", args->generation.seed, "sampling seed");
  greedy->excludes(temperature)->excludes(top_p)->excludes(seed);
  cmd->add_flag("--ids", args->ids, "print the generated token ids instead of text");
  cmd->add_option("--batch-size", args->generation.batch_size, "prompts per batch")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))->capture_default_str();
  cmd->add_option("--dtype", args->dtype, "compute dtype")
      ->check(CLI::IsMember({"float32", "bfloat16"}))->capture_default_str();
  cmd->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->callback([args, temperature, top_p, seed] {
    // Sampling when any sampling flag is given; greedy otherwise.
    args->generation.greedy = !(temperature->count() || top_p->count() || seed->count());
    run_generate(*args);
  });
}

}  // namespace lr::driver::cli
