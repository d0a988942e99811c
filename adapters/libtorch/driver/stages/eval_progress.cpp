#include "stages/eval_progress.h"

#include <memory>

#include "distributed/process_group.h"
#include "stages/share_label.h"

namespace lr::driver {

void show_progress(EvalOptions& eo, std::optional<Progress>& progress, const std::string& what) {
  if (dist::rank() != 0) return;
  const std::string label = share_label(what);
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
