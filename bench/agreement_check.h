// One check, before any timing, that our library and the LibTorch composite
// compute the same thing on the benchmark's data: KL and keep flags, target ids,
// weights and support sizes, fused results, loss and gradient (out of place and
// in place). Prints what it measured; returns false on disagreement.
#pragma once

#include <cstdint>
#include <ostream>

#include "logits_fixture.h"

namespace lrbench {

struct CheckConfig {
  float kappa;
  float beta;
  int64_t k;
};

bool check_agreement(const LogitsPair& logits, const char* dtype_name, const CheckConfig& cfg,
                     std::ostream& out);

}  // namespace lrbench
