#include "training_state_file.h"

#include <cstring>
#include <set>

namespace lr::driver {

std::string param_tensor_name(size_t i) { return "param." + std::to_string(i); }
std::string exp_avg_tensor_name(size_t i) { return "adam.exp_avg." + std::to_string(i); }
std::string exp_avg_sq_tensor_name(size_t i) { return "adam.exp_avg_sq." + std::to_string(i); }
std::string generator_tensor_name(size_t j) { return "rng." + std::to_string(j); }

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The named tensor, which must have this dtype and shape.
const TensorView& tensor_of(const SafetensorsFile& file, const std::string& name, StDtype dtype,
                            const std::vector<int64_t>& shape, std::set<std::string>& used) {
  const TensorView* v = file.find(name);
  if (!v) throw CheckpointError(file.path() + ": not a training state for this model: no tensor " + name);
  if (v->dtype != dtype || v->shape != shape)
    throw CheckpointError(file.path() + ": tensor " + name + " is " + st_dtype_name(v->dtype) + " " +
                          shape_text(v->shape) + ", the trainer's is " + st_dtype_name(dtype) + " " +
                          shape_text(shape));
  used.insert(name);
  return *v;
}

// Element i of an I64 tensor (the mapping may not be 8-byte aligned).
int64_t int64_at(const TensorView& v, size_t i) {
  int64_t x;
  std::memcpy(&x, static_cast<const char*>(v.data) + i * sizeof x, sizeof x);
  return x;
}

int64_t count_at(const SafetensorsFile& file, const TensorView& v, size_t i) {
  const int64_t x = int64_at(v, i);
  if (x < 0) throw CheckpointError(file.path() + ": tensor " + v.name + " holds a negative count (" +
                                   std::to_string(x) + ")");
  return x;
}

void check_format(const SafetensorsFile& file) {
  const auto& meta = file.metadata();
  const auto format = meta.find("format");
  if (format == meta.end() || format->second != kTrainingStateFormat)
    throw CheckpointError(file.path() + ": not a LightReasoner training state (metadata \"format\" is not \"" +
                          kTrainingStateFormat + "\")");
  const auto version = meta.find("version");
  if (version == meta.end() || version->second != kTrainingStateVersion)
    throw CheckpointError(file.path() + ": training state version " +
                          (version == meta.end() ? std::string("missing") : "\"" + version->second + "\"") +
                          ", this program reads version " + kTrainingStateVersion);
}

}  // namespace

TrainingState read_training_state(const std::string& path, const std::vector<ParameterLayout>& params) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  check_format(file);
  std::set<std::string> used;
  TrainingState state;
  const int64_t n = static_cast<int64_t>(params.size());
  state.updates_done = count_at(file, tensor_of(file, kUpdatesDoneTensor, StDtype::I64, {}, used), 0);
  const TensorView& steps = tensor_of(file, kAdamStepsTensor, StDtype::I64, {n}, used);
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& p = params[i];
    state.params.push_back({tensor_of(file, param_tensor_name(i), p.dtype, p.shape, used),
                            tensor_of(file, exp_avg_tensor_name(i), p.dtype, p.shape, used),
                            tensor_of(file, exp_avg_sq_tensor_name(i), p.dtype, p.shape, used),
                            count_at(file, steps, i)});
  }
  for (size_t j = 0; const TensorView* g = file.find(generator_tensor_name(j)); ++j) {
    if (g->dtype != StDtype::U8 || g->shape.size() != 1)
      throw CheckpointError(path + ": tensor " + g->name + " is not a generator state (U8, one dimension)");
    state.generator_states.push_back(*g);
    used.insert(g->name);
  }
  for (const auto& t : file.tensors())
    if (!used.count(t.name)) throw CheckpointError(path + ": unexpected tensor " + t.name);
  return state;
}

}  // namespace lr::driver
