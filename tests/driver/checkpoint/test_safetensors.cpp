// The safetensors reader and writer, and the LibTorch bridge.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "safetensors.h"
#include "test_util.h"
#include "torch_bridge.h"

namespace lr::driver {
namespace {

using test::expect_checkpoint_error;
using test::le64;
using test::raw_safetensors;
using test::read_bytes;
using test::TempDir;
using test::write_bytes;

const StDtype kAllDtypes[] = {StDtype::F64, StDtype::F32, StDtype::F16, StDtype::BF16, StDtype::I64,
                              StDtype::I32, StDtype::I16, StDtype::I8,  StDtype::U8,   StDtype::BOOL};

int64_t numel(const std::vector<int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>());
}

TEST(Safetensors, DtypeNamesAndSizes) {
  EXPECT_STREQ(st_dtype_name(StDtype::BF16), "BF16");
  EXPECT_STREQ(st_dtype_name(StDtype::BOOL), "BOOL");
  EXPECT_EQ(st_dtype_size(StDtype::F64), 8u);
  EXPECT_EQ(st_dtype_size(StDtype::F16), 2u);
  EXPECT_EQ(st_dtype_size(StDtype::U8), 1u);
}

// Every dtype, with a 0-d tensor, empty tensors and ordinary ones.
TEST(Safetensors, RoundTripEveryDtypeAndShape) {
  TempDir tmp;
  const std::vector<std::vector<int64_t>> shapes = {{}, {0}, {3, 0, 2}, {5}, {2, 3}, {1, 2, 3, 2}};
  std::vector<std::string> buffers;
  std::vector<TensorToWrite> tensors;
  buffers.reserve(100);
  unsigned char fill = 1;
  for (StDtype dt : kAllDtypes) {
    for (size_t s = 0; s < shapes.size(); ++s) {
      const size_t n = static_cast<size_t>(numel(shapes[s])) * st_dtype_size(dt);
      std::string bytes(n, '\0');
      for (char& c : bytes) c = static_cast<char>(dt == StDtype::BOOL ? (fill++ & 1) : fill++);
      buffers.push_back(bytes);
      tensors.push_back({std::string(st_dtype_name(dt)) + "/" + std::to_string(s), dt, shapes[s],
                         buffers.back().data(), n});
    }
  }
  const std::string path = tmp.file("all.safetensors");
  write_safetensors(path, tensors, {{"format", "pt"}, {"note", "round trip \xC3\xA9"}});

  const std::string raw = read_bytes(path);
  uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ(n % 8, 0u) << "header padded to a multiple of 8";
  EXPECT_EQ(raw[8], '{');

  const SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(f.path(), path);
  ASSERT_EQ(f.tensors().size(), tensors.size());
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "round trip \xC3\xA9");
  for (const TensorToWrite& t : tensors) {
    const TensorView* v = f.find(t.name);
    ASSERT_NE(v, nullptr) << t.name;
    EXPECT_EQ(v->name, t.name);
    EXPECT_EQ(v->dtype, t.dtype) << t.name;
    EXPECT_EQ(v->shape, t.shape) << t.name;
    ASSERT_EQ(v->nbytes, t.nbytes) << t.name;
    if (t.nbytes) {
      EXPECT_EQ(std::memcmp(v->data, t.data, t.nbytes), 0) << t.name;
    }
    EXPECT_EQ(source_path(*v), path);
  }
  EXPECT_EQ(f.find("absent"), nullptr);

  // Tensors are laid out in name order.
  const TensorView* prev = nullptr;
  for (const TensorView& v : f.tensors()) {
    if (prev) {
      EXPECT_LT(prev->name, v.name);
      EXPECT_EQ(static_cast<const char*>(prev->data) + prev->nbytes, v.data);
    }
    prev = &v;
  }
}

TEST(Safetensors, EmptyFileHasNoTensors) {
  TempDir tmp;
  const std::string path = tmp.file("empty.safetensors");
  write_safetensors(path, {});
  const SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_TRUE(f.metadata().empty());
}

TEST(Safetensors, WriterIsAtomicAndLeavesNoTemporary) {
  TempDir tmp;
  const std::string path = tmp.file("a.safetensors");
  const float x[2] = {1.0f, 2.0f};
  write_safetensors(path, {{"x", StDtype::F32, {2}, x, sizeof x}});
  write_safetensors(path, {{"y", StDtype::F32, {1}, x, 4}});  // replaces it
  const SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(f.find("x"), nullptr);
  ASSERT_NE(f.find("y"), nullptr);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(Safetensors, WriterRejectsBadInput) {
  TempDir tmp;
  const std::string path = tmp.file("bad.safetensors");
  const float x[4] = {};
  expect_checkpoint_error([&] { write_safetensors(path, {{"x", StDtype::F32, {3}, x, 16}}); },
                          {path, "'x'", "needs 12"});
  expect_checkpoint_error(
      [&] { write_safetensors(path, {{"x", StDtype::F32, {1}, x, 4}, {"x", StDtype::F32, {1}, x, 4}}); },
      {path, "'x'", "twice"});
  expect_checkpoint_error([&] { write_safetensors(path, {{"x", StDtype::F32, {-1}, x, 4}}); }, {path, "'x'"});
  expect_checkpoint_error([&] { write_safetensors(path, {{"__metadata__", StDtype::F32, {1}, x, 4}}); },
                          {path, "reserved"});
  expect_checkpoint_error([&] { write_safetensors(tmp.file("no/such/dir/f.safetensors"), {}); },
                          {"no/such/dir/f.safetensors"});
  EXPECT_FALSE(std::filesystem::exists(path));
}

// ------------------------------------------------------------ malformed files

class Malformed : public ::testing::Test {
 protected:
  // Writes `bytes` to a file and expects open() to fail naming it and `parts`.
  void expect_rejected(const std::string& bytes, std::initializer_list<std::string> parts) {
    const std::string path = tmp_.file("m" + std::to_string(count_++) + ".safetensors");
    write_bytes(path, bytes);
    expect_checkpoint_error([&] { SafetensorsFile::open(path); }, {path});
    expect_checkpoint_error([&] { SafetensorsFile::open(path); }, parts);
  }
  TempDir tmp_;
  int count_ = 0;
};

TEST_F(Malformed, TruncatedHeaderLength) {
  expect_rejected("", {"shorter than the 8-byte header length"});
  expect_rejected(std::string("\x10\x00\x00\x00\x00", 5), {"shorter than the 8-byte header length"});
}

TEST_F(Malformed, HeaderLengthTooLarge) {
  expect_rejected(le64(200'000'000) + "{}", {"exceeds the limit"});
  expect_rejected(le64(~uint64_t{0}) + "{}", {"exceeds the limit"});
}

TEST_F(Malformed, HeaderLengthPastEndOfFile) { expect_rejected(le64(64) + "{}", {"runs past the end of the file"}); }

TEST_F(Malformed, BadJson) {
  expect_rejected(raw_safetensors(R"({"a": )", 0), {"not valid JSON"});
  expect_rejected(raw_safetensors(R"({"a": {"dtype": "F32",}})", 0), {"not valid JSON"});
  expect_rejected(le64(0), {"JSON object"});
}

TEST_F(Malformed, HeaderNotAnObject) {
  expect_rejected(raw_safetensors("[1, 2]", 0), {"JSON object"});
  expect_rejected(raw_safetensors(R"("text")", 0), {"JSON object"});
  expect_rejected(raw_safetensors(R"({"a": [1, 2, 3]})", 0), {"'a'", "not a JSON object"});
}

TEST_F(Malformed, HeaderNotUtf8) {
  expect_rejected(raw_safetensors("{\"a\xff\": 1}", 0), {"UTF-8"});
  expect_rejected(raw_safetensors("{\"\xC0\xAF\": 1}", 0), {"UTF-8"});  // overlong '/'
}

TEST_F(Malformed, UnknownDtype) {
  expect_rejected(raw_safetensors(R"({"w": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 1]}})", 1),
                  {"'w'", "unsupported dtype 'Q4'"});
  expect_rejected(raw_safetensors(R"({"w": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}})", 8),
                  {"'w'", "dtype"});
  expect_rejected(raw_safetensors(R"({"w": {"shape": [2], "data_offsets": [0, 8]}})", 8), {"'w'", "dtype"});
}

TEST_F(Malformed, NegativeOrNonIntegerDim) {
  expect_rejected(raw_safetensors(R"({"w": {"dtype": "F32", "shape": [2, -1], "data_offsets": [0, 8]}})", 8),
                  {"'w'", "shape"});
  expect_rejected(raw_safetensors(R"({"w": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})", 8),
                  {"'w'", "shape"});
  expect_rejected(raw_safetensors(R"({"w": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}})", 8),
                  {"'w'", "shape"});
}

TEST_F(Malformed, BadOffsets) {
  expect_rejected(raw_safetensors(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", 8),
                  {"'w'", "data_offsets"});
  expect_rejected(raw_safetensors(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}})", 8),
                  {"'w'", "data_offsets"});
  expect_rejected(raw_safetensors(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8),
                  {"'w'", "end before they begin"});
}

TEST_F(Malformed, OffsetsPastEnd) {
  expect_rejected(raw_safetensors(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 12),
                  {"'w'", "past the end of the data section"});
}

TEST_F(Malformed, Overlapping) {
  expect_rejected(raw_safetensors(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                                  R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                                  12),
                  {"'b'", "overlaps", "'a'"});
  // The same span twice.
  expect_rejected(raw_safetensors(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                                  R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
                                  8),
                  {"overlaps"});
}

TEST_F(Malformed, GapBetweenTensors) {
  expect_rejected(raw_safetensors(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                                  R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}})",
                                  20),
                  {"gap of 4 bytes before tensor 'b'"});
  expect_rejected(raw_safetensors(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12),
                  {"gap", "'a'"});
}

TEST_F(Malformed, TrailingBytesNotCovered) {
  expect_rejected(raw_safetensors(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 12),
                  {"4 bytes after the last tensor"});
}

TEST_F(Malformed, ByteLengthMismatch) {
  expect_rejected(raw_safetensors(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8),
                  {"'w'", "needs 12"});
  expect_rejected(raw_safetensors(R"({"w": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 4]}})", 4),
                  {"'w'", "needs 8"});
  // numel x size overflowing 64 bits.
  expect_rejected(
      raw_safetensors(
          R"({"w": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})", 8),
      {"'w'", "overflows"});
}

TEST_F(Malformed, DuplicateNames) {
  expect_rejected(raw_safetensors(R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},)"
                                  R"( "w": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
                                  2),
                  {"'w'", "twice"});
  expect_rejected(
      raw_safetensors(R"({"w": {"dtype": "U8", "dtype": "I8", "shape": [1], "data_offsets": [0, 1]}})", 1),
      {"'dtype'", "twice"});
}

TEST_F(Malformed, MetadataNotStrings) {
  expect_rejected(raw_safetensors(R"({"__metadata__": {"format": "pt", "step": 3}})", 0),
                  {"__metadata__", "'step'", "not a string"});
  expect_rejected(raw_safetensors(R"({"__metadata__": ["pt"]})", 0), {"__metadata__"});
}

TEST_F(Malformed, TruncatedFile) {
  const std::string good = tmp_.file("good.safetensors");
  const std::vector<float> a(10, 1.0f), b(6, 2.0f);
  write_safetensors(good, {{"a", StDtype::F32, {10}, a.data(), 40}, {"b", StDtype::F32, {2, 3}, b.data(), 24}});
  ASSERT_NO_THROW(SafetensorsFile::open(good));
  const std::string bytes = read_bytes(good);
  expect_rejected(bytes.substr(0, bytes.size() - 4), {"'b'", "past the end", "truncated"});
  expect_rejected(bytes.substr(0, 20), {"runs past the end of the file"});
  expect_rejected(bytes.substr(0, 7), {"shorter than the 8-byte"});
}

TEST_F(Malformed, NotAFile) {
  expect_checkpoint_error([&] { SafetensorsFile::open(tmp_.path()); }, {tmp_.path(), "not a regular file"});
  expect_checkpoint_error([&] { SafetensorsFile::open(tmp_.file("absent.safetensors")); },
                          {"absent.safetensors", "cannot open"});
}

// ------------------------------------------------------------ checkpoint folders

void write_f32(const std::string& path, const std::vector<std::pair<std::string, float>>& tensors) {
  std::vector<TensorToWrite> out;
  for (const auto& t : tensors) out.push_back({t.first, StDtype::F32, {}, &t.second, 4});
  write_safetensors(path, out);
}

float scalar_of(const TensorView& v) {
  float x;
  std::memcpy(&x, v.data, 4);
  return x;
}

TEST(CheckpointDir, SingleFile) {
  TempDir tmp;
  write_f32(tmp.file("model.safetensors"), {{"b", 2.0f}, {"a", 1.0f}});
  const Checkpoint ck = Checkpoint::open_dir(tmp.path());
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(scalar_of(ck.at("b")), 2.0f);
  EXPECT_EQ(ck.find("c"), nullptr);
  expect_checkpoint_error([&] { ck.at("lm_head.weight"); }, {tmp.path(), "'lm_head.weight'"});
}

TEST(CheckpointDir, ShardedIndex) {
  TempDir tmp;
  write_f32(tmp.file("model-00001-of-00002.safetensors"), {{"a", 1.0f}, {"b", 2.0f}});
  write_f32(tmp.file("model-00002-of-00002.safetensors"), {{"c", 3.0f}});
  write_bytes(tmp.file("model.safetensors.index.json"),
              R"({"metadata": {"total_size": 12}, "weight_map": {"a": "model-00001-of-00002.safetensors",)"
              R"( "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}})");
  std::optional<Checkpoint> ck(Checkpoint::open_dir(tmp.path()));
  EXPECT_EQ(ck->files().size(), 2u);
  EXPECT_EQ(ck->names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(scalar_of(ck->at("c")), 3.0f);
  EXPECT_EQ(source_path(ck->at("c")), tmp.file("model-00002-of-00002.safetensors"));
  // Copies and moves keep working after the original is gone.
  Checkpoint copy = *ck;
  Checkpoint assigned;
  assigned = copy;
  ck.reset();
  EXPECT_EQ(scalar_of(copy.at("a")), 1.0f);
  Checkpoint moved = std::move(copy);
  EXPECT_EQ(scalar_of(moved.at("b")), 2.0f);
  EXPECT_EQ(scalar_of(assigned.at("c")), 3.0f);
}

class BadIndex : public ::testing::Test {
 protected:
  void SetUp() override {
    write_f32(tmp_.file("s1.safetensors"), {{"a", 1.0f}, {"b", 2.0f}});
    write_f32(tmp_.file("s2.safetensors"), {{"c", 3.0f}});
  }
  void expect_rejected(const std::string& index, std::initializer_list<std::string> parts) {
    write_bytes(tmp_.file("model.safetensors.index.json"), index);
    expect_checkpoint_error([&] { Checkpoint::open_dir(tmp_.path()); }, {"model.safetensors.index.json"});
    expect_checkpoint_error([&] { Checkpoint::open_dir(tmp_.path()); }, parts);
  }
  TempDir tmp_;
};

TEST_F(BadIndex, MissingShard) {
  expect_rejected(R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors", "c": "s3.safetensors"}})",
                  {"'c'", "'s3.safetensors'", "does not exist"});
}

TEST_F(BadIndex, TensorNotInItsShard) {
  expect_rejected(R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors",)"
                  R"( "d": "s2.safetensors"}})",
                  {"'d'", "does not contain it"});
  expect_rejected(R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors", "c": "s2.safetensors"}})",
                  {"'b'", "does not contain it"});
}

TEST_F(BadIndex, TensorInTwoShards) {
  write_f32(tmp_.file("s2.safetensors"), {{"a", 5.0f}, {"c", 3.0f}});
  expect_rejected(R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors"}})",
                  {"'a'", "two shards"});
}

TEST_F(BadIndex, ShardTensorNotListed) {
  expect_rejected(R"({"weight_map": {"a": "s1.safetensors", "c": "s2.safetensors"}})",
                  {"'b'", "does not list it"});
}

TEST_F(BadIndex, MalformedIndex) {
  expect_rejected("{", {"not valid JSON"});
  expect_rejected(R"({"metadata": {}})", {"weight_map"});
  expect_rejected(R"({"weight_map": {"a": 1}})", {"'a'"});
  expect_rejected(R"({"weight_map": {"a": "../s1.safetensors"}})", {"'a'", "inside the folder"});
  expect_rejected(R"({"weight_map": {"a": "s1.safetensors", "a": "s1.safetensors", "b": "s1.safetensors"}})",
                  {"'a'", "twice"});
}

TEST_F(BadIndex, BadShardNamesTheShard) {
  write_bytes(tmp_.file("s2.safetensors"), "garbage");
  write_bytes(tmp_.file("model.safetensors.index.json"),
              R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors"}})");
  expect_checkpoint_error([&] { Checkpoint::open_dir(tmp_.path()); }, {tmp_.file("s2.safetensors")});
}

TEST(CheckpointDir, NoWeights) {
  TempDir tmp;
  expect_checkpoint_error([&] { Checkpoint::open_dir(tmp.path()); }, {tmp.path(), "no model.safetensors"});
  expect_checkpoint_error([&] { Checkpoint::open_dir(tmp.file("absent")); }, {"absent", "not a folder"});
}

// ------------------------------------------------------------ LibTorch bridge

TEST(TorchBridge, RoundTripEveryTorchDtype) {
  TempDir tmp;
  torch::manual_seed(7);
  std::map<std::string, torch::Tensor> in;
  in["f64"] = torch::randn({3, 4}, torch::kFloat64);
  in["f32"] = torch::randn({2, 3, 4});
  in["f16"] = torch::randn({5}).to(torch::kFloat16);
  in["bf16"] = torch::randn({4, 2}).to(torch::kBFloat16);
  in["i64"] = torch::randint(-1000, 1000, {7}, torch::kInt64);
  in["i32"] = torch::randint(-1000, 1000, {2, 2}, torch::kInt32);
  in["i16"] = torch::randint(-1000, 1000, {3}, torch::kInt16);
  in["i8"] = torch::randint(-100, 100, {3}, torch::kInt8);
  in["u8"] = torch::randint(0, 255, {3}, torch::kUInt8);
  in["bool"] = torch::randint(0, 2, {6}, torch::kInt64).to(torch::kBool);
  in["scalar"] = torch::tensor(3.5);
  in["empty"] = torch::zeros({0, 3});
  in["strided"] = torch::arange(12, torch::kFloat32).reshape({3, 4}).t();  // not contiguous
  const std::string path = tmp.file("t.safetensors");
  save_tensors(path, in, {{"who", "test"}});
  const SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("who"), "test");
  ASSERT_EQ(f.tensors().size(), in.size());
  for (const auto& [name, t] : in) {
    const TensorView* v = f.find(name);
    ASSERT_NE(v, nullptr) << name;
    EXPECT_EQ(v->dtype, st_dtype_of(t.scalar_type())) << name;
    const torch::Tensor back = to_tensor(*v);
    EXPECT_EQ(back.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(back.sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(back, t.contiguous())) << name;
  }
}

TEST(TorchBridge, ZeroCopyAndOwnership) {
  TempDir tmp;
  const std::string path = tmp.file("z.safetensors");
  save_tensors(path, {{"w", torch::arange(16, torch::kFloat32).reshape({4, 4})}, {"b", torch::ones({3})}});
  torch::Tensor w;
  const void* data = nullptr;
  {
    const SafetensorsFile f = SafetensorsFile::open(path);
    const TensorView& v = *f.find("w");
    data = v.data;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data) % 4, 0u) << "the writer pads the header to 8 bytes";
    w = to_tensor(v);
    EXPECT_EQ(w.data_ptr(), v.data) << "zero copy: the tensor is a view into the mapping";
    EXPECT_EQ(to_tensor(v, torch::kFloat32).data_ptr(), v.data);
  }
  // The file object is gone; the tensor still owns the mapping.
  EXPECT_EQ(w.data_ptr(), data);
  EXPECT_EQ(w[3][3].item<float>(), 15.0f);
  // The mapping is private: writing into the tensor does not reach the file.
  const std::string before = read_bytes(path);
  w.mul_(2);
  EXPECT_EQ(w[3][3].item<float>(), 30.0f);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(to_tensor(*SafetensorsFile::open(path).find("w"))[3][3].item<float>(), 15.0f);
}

TEST(TorchBridge, MisalignedDataIsCopied) {
  TempDir tmp;
  // A header of 13 bytes padding nothing: the data starts at byte 21 of the file.
  const std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  ASSERT_NE((8 + header.size()) % 4, 0u);
  const float vals[2] = {1.5f, -2.25f};
  const std::string path = tmp.file("m.safetensors");
  write_bytes(path, le64(header.size()) + header + std::string(reinterpret_cast<const char*>(vals), 8));
  const SafetensorsFile f = SafetensorsFile::open(path);
  const torch::Tensor t = to_tensor(*f.find("w"));
  EXPECT_NE(t.data_ptr(), f.find("w")->data);
  EXPECT_EQ(t[0].item<float>(), 1.5f);
  EXPECT_EQ(t[1].item<float>(), -2.25f);
}

TEST(TorchBridge, Conversions) {
  TempDir tmp;
  const std::string path = tmp.file("c.safetensors");
  const torch::Tensor x = torch::randn({3, 5}).to(torch::kBFloat16);
  save_tensors(path, {{"x", x}, {"ids", torch::arange(4)}, {"d", torch::ones({2}, torch::kFloat64)}});
  const SafetensorsFile f = SafetensorsFile::open(path);
  const torch::Tensor f32 = to_tensor(*f.find("x"), torch::kFloat32);
  EXPECT_EQ(f32.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(f32, x.to(torch::kFloat32)));
  EXPECT_EQ(to_tensor(*f.find("x"), torch::kFloat16).scalar_type(), torch::kFloat16);
  EXPECT_EQ(to_tensor(*f.find("ids"), torch::kInt64).data_ptr(), f.find("ids")->data);
  expect_checkpoint_error([&] { to_tensor(*f.find("ids"), torch::kFloat32); }, {path, "'ids'", "cannot convert"});
  expect_checkpoint_error([&] { to_tensor(*f.find("d"), torch::kFloat32); }, {path, "'d'"});
  expect_checkpoint_error([&] { to_tensor(*f.find("x"), torch::kInt32); }, {path, "'x'"});
}

TEST(TorchBridge, UnsupportedDtype) {
  expect_checkpoint_error([] { st_dtype_of(torch::kComplexFloat); }, {"unsupported"});
  TempDir tmp;
  expect_checkpoint_error(
      [&] { save_tensors(tmp.file("x.safetensors"), {{"z", torch::zeros({2}, torch::kComplexFloat)}}); },
      {"x.safetensors", "'z'"});
}

}  // namespace
}  // namespace lr::driver
