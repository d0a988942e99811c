// The JSON-lines readers: the first input byte picks one, the rest is the
// file. The run folder's lenient reader (io/json_files), stdin of the
// tokenize / generate / grade verbs (io/stdin_json_lines), the training
// problems (sample/problems), the supervision store (sample/supervision_store),
// eval results (evaluate/results_file, read and reopened for appending) and
// each bundled eval set's fields (evaluate/datasets).
#include <sstream>
#include <string>

#include "byte_reader.h"
#include "config/bundled_data.h"
#include "evaluate/datasets.h"
#include "evaluate/results_file.h"
#include "fuzz_targets.h"
#include "io/json_files.h"
#include "io/stdin_json_lines.h"
#include "sample/problems.h"
#include "sample/supervision_store.h"
#include "scratch_files.h"

namespace lr::fuzz {
namespace {

using namespace driver;

const char* const kEvalSets[] = {"gsm8k", "svamp", "asdiv", "minerva_math", "olympiadbench", "mmlu_stem"};

void read_with(uint8_t reader, const std::string& path, const std::string& text) {
  switch (reader % 9) {
    case 0: (void)read_json_objects(path); break;
    case 1: {
      std::istringstream in(text);
      (void)read_json_string_lines(in);
      break;
    }
    case 2: (void)read_problems(path); break;
    case 3: (void)read_supervision(path); break;
    case 4: (void)read_supervision_blocks(path); break;
    case 5: (void)read_result_lines(path); break;
    case 6: (void)ResultsFile(path); break;
    default: {
      EvalDataset d = config_internal::bundled_dataset(*config_internal::find_bundled(kEvalSets[(reader / 9) % 6]));
      d.file = path;
      (void)load_eval_dataset(d);
    }
  }
}

}  // namespace

int json_lines(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  const uint8_t reader = in.take<uint8_t>();
  const std::string text = in.rest();
  const std::string path = write_scratch("lines.jsonl", text);
  try {
    read_with(reader, path, text);
  } catch (const ProblemsError&) {
  } catch (const SupervisionStoreError&) {
  } catch (const ResultsFileError&) {
  } catch (const DatasetError&) {
  } catch (const std::runtime_error& e) {  // stdin lines: "stdin line N: ..."
    if (reader % 9 != 1) throw;
  }
  return 0;
}

}  // namespace lr::fuzz
