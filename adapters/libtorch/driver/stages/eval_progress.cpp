#include "stages/eval_progress.h"

#include <memory>

namespace lr::driver {

void show_progress(EvalOptions& eo, std::optional<Progress>& progress, const std::string& label) {
  auto first = std::make_shared<int64_t>(-1);  // problems done before this call
  eo.progress = [&progress, label, first](int64_t done, int64_t total) {
    if (*first < 0) {
      *first = done;
      if (done < total) progress.emplace(label, total - done, "problems");
    }
    if (progress) progress->update(done - *first);
  };
}

}  // namespace lr::driver
