// The trainer's checkpoint, checkpoint.safetensors (training_state_file.h),
// read against a fixed trainer of two float32 parameters, [4, 8] and [8, 4]
// (the seeds, fuzz/seed_training_state.py, fit it). A state the reader
// accepts must hold exactly those parameters, each value and moment's bytes
// inside the file, and counts >= 0.
#include <string>

#include "checkpoint/training_state_file.h"
#include "fuzz_targets.h"
#include "scratch_files.h"

namespace lr::fuzz {

namespace {

const std::vector<driver::ParameterLayout> kLayout = {{driver::StDtype::F32, {4, 8}}, {driver::StDtype::F32, {8, 4}}};

unsigned read_all(const driver::TensorView& v, const driver::ParameterLayout& want) {
  if (v.dtype != want.dtype || v.shape != want.shape || v.nbytes != 32 * sizeof(float))
    throw std::logic_error("training state: " + v.name + " accepted with another dtype, shape or size");
  unsigned sum = 0;
  for (size_t i = 0; i < v.nbytes; ++i) sum += static_cast<const unsigned char*>(v.data)[i];
  return sum;
}

}  // namespace

int training_state(const uint8_t* data, size_t size) {
  const std::string path =
      write_scratch(driver::kTrainingStateFile, std::string(reinterpret_cast<const char*>(data), size));
  try {
    const auto state = driver::read_training_state(path, kLayout);
    if (state.params.size() != kLayout.size() || state.updates_done < 0)
      throw std::logic_error("training state: accepted with the wrong parameter count or negative updates");
    unsigned sum = 0;
    for (size_t i = 0; i < kLayout.size(); ++i) {
      const auto& p = state.params[i];
      if (p.adam_step < 0) throw std::logic_error("training state: a negative AdamW step accepted");
      sum += read_all(p.value, kLayout[i]) + read_all(p.exp_avg, kLayout[i]) + read_all(p.exp_avg_sq, kLayout[i]);
    }
    for (const auto& g : state.generator_states)
      for (size_t i = 0; i < g.nbytes; ++i) sum += static_cast<const unsigned char*>(g.data)[i];
    (void)sum;
  } catch (const driver::CheckpointError&) {
  }
  return 0;
}

}  // namespace lr::fuzz
