// libFuzzer's entry point for one target: LR_FUZZ_TARGET names its function
// in fuzz_targets.h (set per executable by fuzz/CMakeLists.txt).
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return lr::fuzz::LR_FUZZ_TARGET(data, size); }
