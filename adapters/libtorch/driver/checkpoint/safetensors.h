// Reading and writing the safetensors format (Hugging Face): an 8-byte
// little-endian header length, a JSON header mapping tensor names to
// {dtype, shape, data_offsets}, then the raw bytes. Files are memory-mapped;
// tensors are views into the mapping, so loading costs no copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/atomic_file.h"  // write_file_atomically, for the checkpoint writers

namespace lr::driver {

// Any fault in a checkpoint: the message names the file and, where one is
// involved, the tensor.
struct CheckpointError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class StDtype { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };
const char* st_dtype_name(StDtype d);  // "F32", "BF16", ...
size_t st_dtype_size(StDtype d);

class MappedFile;  // the mmap, shared by every view into it

struct TensorView {
  std::string name;
  StDtype dtype;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // inside the mapping
  size_t nbytes = 0;
  std::shared_ptr<const MappedFile> owner;  // keeps the mapping alive
};

// The file a view was read from ("" for a view without an owner), for messages.
std::string source_path(const TensorView& view);

// One .safetensors file, validated on open: header size bound, well-formed
// JSON, known dtypes, offsets inside the file, contiguous and
// non-overlapping, byte length = numel x dtype size, no duplicate names.
class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);  // throws CheckpointError

  const std::string& path() const { return path_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find(const std::string& name) const;  // nullptr if absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::string path_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// A model folder: model.safetensors, or model.safetensors.index.json with
// its shards (every tensor the index names must be in the shard it names).
class Checkpoint {
 public:
  static Checkpoint open_dir(const std::string& dir);  // throws CheckpointError

  Checkpoint() = default;
  Checkpoint(const Checkpoint& other);  // the name index points into files_: rebuilt on copy
  Checkpoint& operator=(const Checkpoint& other);
  Checkpoint(Checkpoint&&) = default;
  Checkpoint& operator=(Checkpoint&&) = default;

  const std::string& dir() const { return dir_; }
  const std::vector<SafetensorsFile>& files() const { return files_; }

  const TensorView* find(const std::string& name) const;  // nullptr if absent
  const TensorView& at(const std::string& name) const;    // throws CheckpointError naming it
  std::vector<std::string> names() const;                 // sorted

 private:
  void rebuild_index();

  std::string dir_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, const TensorView*> by_name_;
};

// A tensor to write: raw little-endian bytes in dtype's layout, row-major.
struct TensorToWrite {
  std::string name;
  StDtype dtype;
  std::vector<int64_t> shape;
  const void* data;
  size_t nbytes;
};

// Writes atomically (io/atomic_file.h: a temporary file, fsync, renamed into
// place), so a crash never leaves a half-written file under the final name.
// Throws CheckpointError.
// Layout: the header's JSON padded with spaces to a multiple of 8 bytes, then
// the tensors' bytes in name order.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace lr::driver
