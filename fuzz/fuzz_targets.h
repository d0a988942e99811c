// Every fuzz target's body, one function each: libFuzzer calls it through
// libfuzzer_entry.cpp (the fuzz preset), the regression replayer
// (tests/fuzz/) calls it on each file of fuzz/corpus/<target>/ and
// fuzz/regressions/<target>/ in the normal build. A target returns 0, or -1
// for an input it skips (too large to back with memory, see fuzz_capi_args.cpp);
// a reader's own error (its one-line message) is caught inside, anything else
// escapes and is a finding.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lr::fuzz {

int capi_args(const uint8_t* data, size_t size);           // fuzz_capi_args.cpp
int capi_shard_args(const uint8_t* data, size_t size);     // fuzz_capi_shard_args.cpp
int safetensors(const uint8_t* data, size_t size);         // fuzz_safetensors.cpp
int safetensors_index(const uint8_t* data, size_t size);   // fuzz_safetensors_index.cpp
int model_config(const uint8_t* data, size_t size);        // fuzz_model_config.cpp
int tokenizer_load(const uint8_t* data, size_t size);      // fuzz_tokenizer_load.cpp
int tokenizer_encode(const uint8_t* data, size_t size);    // fuzz_tokenizer_encode.cpp
int experiment_config(const uint8_t* data, size_t size);   // fuzz_experiment_config.cpp
int json_lines(const uint8_t* data, size_t size);          // fuzz_json_lines.cpp
int grading(const uint8_t* data, size_t size);             // fuzz_grading.cpp
int training_state(const uint8_t* data, size_t size);      // fuzz_training_state.cpp
int peft_adapter_config(const uint8_t* data, size_t size); // fuzz_peft_adapter_config.cpp
int settings_file(const uint8_t* data, size_t size);       // fuzz_settings_file.cpp

}  // namespace lr::fuzz
