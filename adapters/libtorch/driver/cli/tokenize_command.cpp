// lightreasoner tokenize --tokenizer FILE
// stdin: one JSON string per line; stdout: one JSON array of ids per line.
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.h"
#include "io/stdin_json_lines.h"
#include "tokenizer/tokenizer.h"

namespace lr::driver::cli {

namespace {

struct TokenizeArgs {
  std::string tokenizer;
};

// tokenizer_config.json beside tokenizer.json, if there is one.
std::string config_beside(const std::string& tokenizer_json) {
  const auto path = std::filesystem::path(tokenizer_json).parent_path() / "tokenizer_config.json";
  return std::filesystem::exists(path) ? path.string() : std::string();
}

void run_tokenize(const TokenizeArgs& args) {
  const Tokenizer tokenizer = Tokenizer::from_file(args.tokenizer, config_beside(args.tokenizer));
  const std::vector<std::string> texts = read_json_string_lines(std::cin);
  std::string out;
  for (const std::string& text : texts) {
    const std::vector<int32_t> ids = tokenizer.encode(text);
    out += '[';
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out += ',';
      out += std::to_string(ids[i]);
    }
    out += "]\n";
  }
  std::cout << out << std::flush;
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "Encode text with a Hugging Face tokenizer.json: one JSON string per stdin line in, "
                  "one JSON array of token ids per line out");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer.json (tokenizer_config.json beside it is read too)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->callback([args] { run_tokenize(*args); });
}

}  // namespace lr::driver::cli
