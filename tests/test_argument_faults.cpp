// Argument faults at the C ABI: every fault returns a status, leaves a
// message in lr_last_error() that names the faulty argument, and writes no
// output (outputs are pre-filled with a sentinel byte pattern and compared
// byte for byte; for the in-place gradient the logits themselves too).
//
// Each TEST below is one distinct fault (or, for the few marked "Accepts",
// a request the header says must succeed).
#include <gtest/gtest.h>

#include <lightreasoner/lightreasoner.h>

#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "support/device_shim.h"
#include "support/host_tensor.h"

namespace {

using lrtest::Dtype;
using lrtest::HostTensor;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr uint8_t kSentinel = 0xA5;

// Whether this build has CUDA compiled in, from lr_build_info(). The lead's
// wording is "CUDA: no" / "CUDA: yes ..." (checked case-insensitively).
bool cuda_compiled_in() {
  std::string info = lr_build_info() ? lr_build_info() : "";
  for (auto& c : info) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (info.find("cuda: no") != std::string::npos) return false;
  if (info.find("cuda: off") != std::string::npos) return false;
  if (info.find("cuda: none") != std::string::npos) return false;
  if (info.find("without cuda") != std::string::npos) return false;
  return info.find("cuda") != std::string::npos;
}

std::string status_name(lr_status s) {
  const char* n = lr_status_string(s);
  return n ? n : "(null)";
}

// A small valid lr_select_steps call on private tensors: the way to reset
// lr_last_error() to "" before each fault, so a stale message from an
// earlier test can never make a fault look reported.
::testing::AssertionResult reset_last_error() {
  HostTensor e(Dtype::F32, {1, 2}), a(Dtype::F32, {1, 2}), kl(Dtype::F32, {1});
  e.set(0, 0, 1.0); e.set(0, 1, 0.0);
  a.set(0, 0, 0.0); a.set(0, 1, 1.0);
  lr_status s = lrtest::select_steps(e.dl(), a.dl(), nullptr, kl.dl(), nullptr, nullptr);
  if (s != LR_OK)
    return ::testing::AssertionFailure() << "reset call failed: " << status_name(s) << " \""
                                         << lr_last_error() << "\"";
  const char* msg = lr_last_error();
  if (msg == nullptr || msg[0] != '\0')
    return ::testing::AssertionFailure() << "lr_last_error() not \"\" after a successful call: \""
                                         << (msg ? msg : "(null)") << "\"";
  return ::testing::AssertionSuccess();
}

class ArgumentFault : public ::testing::Test {
 protected:
  static constexpr int64_t N = 3, V = 8, K = 4, M = 2;

  void SetUp() override {
    // Select/targets inputs: distinct rows so KL > 0 and supports have a few ids.
    const double e[N][V] = {{2.0, 1.5, 0.3, -1.0, 0.0, 1.9, -2.0, 0.5},
                            {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8},
                            {-1.0, 3.0, 2.8, 0.0, -0.5, 2.9, 1.0, 0.0}};
    const double a[N][V] = {{0.5, 2.0, 0.3, 0.0, 0.0, 1.0, -1.0, 0.5},
                            {0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1},
                            {0.0, 1.0, 3.0, 0.0, 0.5, 0.0, 1.0, 0.0}};
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < V; ++j) {
        expert.set(i, j, e[i][j]);
        amateur.set(i, j, a[i][j]);
        logits.set(i, j, 0.25 * static_cast<double>(j) - 0.5 * static_cast<double>(i));
      }
    rows.set_at(0, 2);
    rows.set_at(1, 0);

    // Stage-2 targets: valid (ids distinct, in range; weights >= 0, sum 1).
    const int32_t ids[N][K] = {{1, 3, -1, -1}, {0, -1, -1, -1}, {5, 6, 7, 2}};
    const float w[N][K] = {{0.7f, 0.3f, 0.f, 0.f}, {1.f, 0.f, 0.f, 0.f}, {0.25f, 0.25f, 0.25f, 0.25f}};
    for (int64_t i = 0; i < N; ++i)
      for (int64_t k = 0; k < K; ++k) {
        loss_ids.set(i, k, ids[i][k]);
        loss_w.set(i, k, w[i][k]);
      }

    for (HostTensor* t : {&kl, &keep, &ids_m, &w_m, &sup_m, &ids_n, &w_n, &sup_n, &loss1, &lossN, &grad})
      t->fill_bytes(kSentinel);
  }

  // All tensors of the fixture: their bytes are compared around each fault.
  std::vector<const HostTensor*> all_tensors() const {
    return {&expert, &amateur, &kl, &keep, &rows, &ids_m, &w_m, &sup_m, &ids_n, &w_n, &sup_n,
            &logits, &loss_ids, &loss_w, &loss1, &lossN, &grad};
  }

  // Runs `call` (a fault), expecting one of `statuses`, a message naming one
  // of `names`, and every fixture tensor (and every `extra` one) unchanged.
  template <class F>
  ::testing::AssertionResult Fault(std::initializer_list<lr_status> statuses,
                                   std::initializer_list<const char*> names, F&& call,
                                   std::vector<const HostTensor*> extra = {}) {
    auto reset = reset_last_error();
    if (!reset) return reset;
    std::vector<const HostTensor*> watched = all_tensors();
    watched.insert(watched.end(), extra.begin(), extra.end());
    std::vector<std::vector<uint8_t>> before;
    for (const HostTensor* t : watched) before.push_back(t->bytes());

    lr_status s = call();
    const char* raw = lr_last_error();
    std::string msg = raw ? raw : "";
    if (std::getenv("LR_TEST_PRINT_ERRORS"))  // to read the messages: LR_TEST_PRINT_ERRORS=1
      std::printf("    [%s] %s\n", status_name(s).c_str(), msg.c_str());

    bool status_ok = false;
    for (lr_status want : statuses) status_ok = status_ok || s == want;
    bool named = false;
    for (const char* n : names) named = named || msg.find(n) != std::string::npos;
    size_t changed = watched.size();
    for (size_t i = 0; i < watched.size(); ++i)
      if (watched[i]->bytes() != before[i]) { changed = i; break; }

    if (status_ok && raw != nullptr && !msg.empty() && named && changed == watched.size())
      return ::testing::AssertionSuccess();
    auto r = ::testing::AssertionFailure();
    r << "status " << status_name(s) << " (want";
    for (lr_status want : statuses) r << " " << status_name(want);
    r << "); lr_last_error() = " << (raw ? "\"" + msg + "\"" : std::string("NULL")) << " (want a name among";
    for (const char* n : names) r << " \"" << n << "\"";
    r << ")";
    if (changed != watched.size()) r << "; tensor #" << changed << " of the watched set was written";
    return r;
  }

  ::testing::AssertionResult Invalid(const char* name, std::function<lr_status()> call,
                                     std::vector<const HostTensor*> extra = {}) {
    return Fault({LR_ERR_INVALID_ARGUMENT}, {name}, call, std::move(extra));
  }

  // A fault about placing one tensor on a CUDA device next to CPU tensors:
  // a device mismatch (INVALID_ARGUMENT); a build without CUDA may also
  // answer UNSUPPORTED.
  ::testing::AssertionResult DeviceMismatch(const char* name, std::function<lr_status()> call) {
    if (cuda_compiled_in()) return Fault({LR_ERR_INVALID_ARGUMENT}, {name}, call);
    return Fault({LR_ERR_INVALID_ARGUMENT, LR_ERR_UNSUPPORTED}, {name}, call);
  }

  // The calls with the fixture's valid arguments, any of which a test swaps.
  lr_status select(const DLTensor* e, const DLTensor* a, const lr_select_params* p, DLTensor* klo,
                   DLTensor* keepo) {
    return lrtest::select_steps(e, a, p, klo, keepo, nullptr);
  }
  lr_status build(const DLTensor* e, const DLTensor* a, const DLTensor* r, const lr_target_params* p,
                  DLTensor* ids, DLTensor* w, DLTensor* sup) {
    return lrtest::build_targets(e, a, r, p, ids, w, sup, nullptr);
  }
  lr_status loss(const DLTensor* z, const DLTensor* ids, const DLTensor* w, const lr_loss_params* p,
                 DLTensor* out, DLTensor* g) {
    return lrtest::distill_loss_backward(z, ids, w, p, out, g, nullptr);
  }
  lr_status fused(const lr_select_params* sp, const lr_target_params* tp) {
    return lrtest::select_and_build(expert.dl(), amateur.dl(), sp, tp, kl.dl(), keep.dl(), ids_n.dl(),
                               w_n.dl(), sup_n.dl(), nullptr);
  }

  HostTensor expert{Dtype::F32, {N, V}}, amateur{Dtype::F32, {N, V}};
  HostTensor kl{Dtype::F32, {N}}, keep{Dtype::U8, {N}};
  HostTensor rows{Dtype::I64, {M}};
  HostTensor ids_m{Dtype::I32, {M, K}}, w_m{Dtype::F32, {M, K}}, sup_m{Dtype::I32, {M}};
  HostTensor ids_n{Dtype::I32, {N, K}}, w_n{Dtype::F32, {N, K}}, sup_n{Dtype::I32, {N}};
  HostTensor logits{Dtype::F32, {N, V}}, loss_ids{Dtype::I32, {N, K}}, loss_w{Dtype::F32, {N, K}};
  HostTensor loss1{Dtype::F32, {1}}, lossN{Dtype::F32, {N}}, grad{Dtype::F32, {N, V}};

  lr_select_params sp = lr_select_params_default();
  lr_target_params tp = lr_target_params_default();
  lr_loss_params lp = lr_loss_params_default();
};

// ------------------------------------------------- the fixture itself is valid

TEST_F(ArgumentFault, BaselineCallsSucceed) {
  EXPECT_EQ(select(expert.dl(), amateur.dl(), &sp, kl.dl(), keep.dl()), LR_OK) << lr_last_error();
  EXPECT_STREQ(lr_last_error(), "");
  EXPECT_EQ(build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), sup_m.dl()), LR_OK)
      << lr_last_error();
  EXPECT_EQ(fused(&sp, &tp), LR_OK) << lr_last_error();
  EXPECT_EQ(loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()), LR_OK)
      << lr_last_error();
  lp.reduction = LR_REDUCTION_NONE;
  EXPECT_EQ(loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, lossN.dl(), nullptr), LR_OK)
      << lr_last_error();
  EXPECT_STREQ(lr_last_error(), "");
}

// ------------------------------------------------------------ lr_select_steps

TEST_F(ArgumentFault, SelectNullExpert) {
  EXPECT_TRUE(Invalid("expert_logits", [&] { return select(nullptr, amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectNullAmateur) {
  EXPECT_TRUE(Invalid("amateur_logits", [&] { return select(expert.dl(), nullptr, &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectNullKlOut) {
  EXPECT_TRUE(Invalid("kl_out", [&] { return select(expert.dl(), amateur.dl(), &sp, nullptr, keep.dl()); }));
}

TEST_F(ArgumentFault, SelectNullExpertData) {
  DLTensor e = *expert.dl();
  e.data = nullptr;
  EXPECT_TRUE(Invalid("expert_logits", [&] { return select(&e, amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectNullKlOutData) {
  DLTensor k = *kl.dl();
  k.data = nullptr;
  EXPECT_TRUE(Invalid("kl_out", [&] { return select(expert.dl(), amateur.dl(), &sp, &k, keep.dl()); }));
}

TEST_F(ArgumentFault, SelectExpertOneDimensional) {
  DLTensor e = *expert.dl();
  e.ndim = 1;  // shape [N], a plain vector
  EXPECT_TRUE(Invalid("expert_logits", [&] { return select(&e, amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectExpertNullShape) {
  DLTensor e = *expert.dl();
  e.shape = nullptr;
  EXPECT_TRUE(Invalid("expert_logits", [&] { return select(&e, amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectAmateurThreeDimensional) {
  int64_t shape3[3] = {1, N, V};
  int64_t strides3[3] = {N * V, V, 1};
  DLTensor a = *amateur.dl();
  a.ndim = 3;
  a.shape = shape3;
  a.strides = strides3;
  EXPECT_TRUE(Invalid("amateur_logits", [&] { return select(expert.dl(), &a, &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectRowCountMismatch) {
  HostTensor a2(Dtype::F32, {N - 1, V});
  EXPECT_TRUE(Invalid("amateur_logits", [&] { return select(expert.dl(), a2.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectKlOutWrongLength) {
  HostTensor k2(Dtype::F32, {N - 1});
  k2.fill_bytes(kSentinel);
  EXPECT_TRUE(Invalid("kl_out", [&] { return select(expert.dl(), amateur.dl(), &sp, k2.dl(), keep.dl()); }, {&k2}));
}

TEST_F(ArgumentFault, SelectKlOutTwoDimensional) {
  HostTensor k2(Dtype::F32, {N, 1});
  k2.fill_bytes(kSentinel);
  EXPECT_TRUE(Invalid("kl_out", [&] { return select(expert.dl(), amateur.dl(), &sp, k2.dl(), keep.dl()); }, {&k2}));
}

TEST_F(ArgumentFault, SelectKlOutWrongDtype) {
  HostTensor k2(Dtype::F16, {N});
  k2.fill_bytes(kSentinel);
  EXPECT_TRUE(Invalid("kl_out", [&] { return select(expert.dl(), amateur.dl(), &sp, k2.dl(), keep.dl()); }, {&k2}));
}

TEST_F(ArgumentFault, SelectKeepOutWrongDtypeFloat) {
  HostTensor k2(Dtype::F32, {N});
  k2.fill_bytes(kSentinel);
  EXPECT_TRUE(Invalid("keep_out", [&] { return select(expert.dl(), amateur.dl(), &sp, kl.dl(), k2.dl()); }, {&k2}));
}

TEST_F(ArgumentFault, SelectKeepOutWrongLength) {
  HostTensor k2(Dtype::U8, {N + 1});
  k2.fill_bytes(kSentinel);
  EXPECT_TRUE(Invalid("keep_out", [&] { return select(expert.dl(), amateur.dl(), &sp, kl.dl(), k2.dl()); }, {&k2}));
}

TEST_F(ArgumentFault, SelectExpertInt32) {
  HostTensor e2(Dtype::I32, {N, V});
  EXPECT_TRUE(Invalid("expert_logits", [&] { return select(e2.dl(), amateur.dl(), &sp, kl.dl(), keep.dl()); }, {&e2}));
}

TEST_F(ArgumentFault, SelectExpertFloat64) {
  std::vector<double> buf(N * V, 0.5);
  DLTensor e = *expert.dl();
  e.data = buf.data();
  e.dtype = DLDataType{kDLFloat, 64, 1};
  EXPECT_TRUE(Invalid("expert_logits", [&] { return select(&e, amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectAmateurVectorLanes) {
  std::vector<float> buf(2 * N * V, 0.5f);
  DLTensor a = *amateur.dl();
  a.data = buf.data();
  a.dtype = DLDataType{kDLFloat, 32, 2};
  EXPECT_TRUE(Invalid("amateur_logits", [&] { return select(expert.dl(), &a, &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectExpertNonUnitVocabStride) {
  HostTensor wide(Dtype::F32, {N, 2 * V}, -1, 0.0f);
  int64_t strides[2] = {2 * V, 2};
  DLTensor e = *expert.dl();
  e.data = wide.dl()->data;
  e.strides = strides;
  EXPECT_TRUE(Invalid("expert_logits", [&] { return select(&e, amateur.dl(), &sp, kl.dl(), keep.dl()); }, {&wide}));
}

TEST_F(ArgumentFault, SelectExpertUnalignedByteOffset) {
  HostTensor big(Dtype::F32, {N + 1, V}, -1, 0.0f);
  DLTensor e = *expert.dl();
  e.data = big.dl()->data;
  e.byte_offset = 2;  // not a multiple of sizeof(float)
  EXPECT_TRUE(Invalid("expert_logits", [&] { return select(&e, amateur.dl(), &sp, kl.dl(), keep.dl()); }, {&big}));
}

TEST_F(ArgumentFault, SelectKlOutUnalignedByteOffset) {
  HostTensor big(Dtype::F32, {N + 1});
  big.fill_bytes(kSentinel);
  DLTensor k = *kl.dl();
  k.data = big.dl()->data;
  k.byte_offset = 1;
  EXPECT_TRUE(Invalid("kl_out", [&] { return select(expert.dl(), amateur.dl(), &sp, &k, keep.dl()); }, {&big}));
}

TEST_F(ArgumentFault, SelectTemperatureZero) {
  sp.temperature = 0.0f;
  EXPECT_TRUE(Invalid("temperature", [&] { return select(expert.dl(), amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectTemperatureNegative) {
  sp.temperature = -1.0f;
  EXPECT_TRUE(Invalid("temperature", [&] { return select(expert.dl(), amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectTemperatureNaN) {
  sp.temperature = kNaN;
  EXPECT_TRUE(Invalid("temperature", [&] { return select(expert.dl(), amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectTemperatureInf) {
  sp.temperature = kInf;
  EXPECT_TRUE(Invalid("temperature", [&] { return select(expert.dl(), amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectKlThresholdNaN) {
  sp.kl_threshold = kNaN;
  EXPECT_TRUE(Invalid("kl_threshold", [&] { return select(expert.dl(), amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

// Not a fault: the header allows +-Inf thresholds (+Inf keeps no row, -Inf every
// row without a data fault).
TEST_F(ArgumentFault, SelectKlThresholdInfIsAccepted) {
  for (float threshold : {kInf, -kInf}) {
    sp.kl_threshold = threshold;
    ASSERT_EQ(select(expert.dl(), amateur.dl(), &sp, kl.dl(), keep.dl()), LR_OK) << lr_last_error();
    EXPECT_STREQ(lr_last_error(), "");
    for (int64_t i = 0; i < keep.numel(); ++i) EXPECT_EQ(keep.at(i), threshold > 0 ? 0.0 : 1.0) << "row " << i;
  }
}

TEST_F(ArgumentFault, SelectStructSizeZero) {
  sp.struct_size = 0;
  EXPECT_TRUE(Invalid("struct_size", [&] { return select(expert.dl(), amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectStructSizeTooSmall) {
  // Smaller than the v1.0 struct (the first version): no older caller exists.
  sp.struct_size = static_cast<uint32_t>(offsetof(lr_select_params, shared_vocab));
  EXPECT_TRUE(Invalid("struct_size", [&] { return select(expert.dl(), amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectSharedVocabTooLarge) {
  HostTensor a6(Dtype::F32, {N, V - 2}, -1, 0.0f);
  sp.shared_vocab = V - 1;  // > min(Ve, Va) = V - 2
  EXPECT_TRUE(Invalid("shared_vocab", [&] { return select(expert.dl(), a6.dl(), &sp, kl.dl(), keep.dl()); }, {&a6}));
}

TEST_F(ArgumentFault, SelectSharedVocabNegative) {
  sp.shared_vocab = -1;
  EXPECT_TRUE(Invalid("shared_vocab", [&] { return select(expert.dl(), amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectAllInputsOnCuda) {
  if (cuda_compiled_in())
    GTEST_SKIP() << "CUDA is compiled in: host pointers labelled kDLCUDA cannot be handed to it safely";
  DLTensor e = *expert.dl(), a = *amateur.dl(), k = *kl.dl(), kp = *keep.dl();
  for (DLTensor* t : {&e, &a, &k, &kp}) t->device = DLDevice{kDLCUDA, 0};
  EXPECT_TRUE(Fault({LR_ERR_UNSUPPORTED}, {"expert_logits"},
                    [&] { return select(&e, &a, &sp, &k, &kp); }));
}

TEST_F(ArgumentFault, SelectAmateurOnOtherDevice) {
  DLTensor a = *amateur.dl();
  a.device = DLDevice{kDLCUDA, 0};
  EXPECT_TRUE(DeviceMismatch("amateur_logits", [&] { return select(expert.dl(), &a, &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectKlOutOnOtherDevice) {
  DLTensor k = *kl.dl();
  k.device = DLDevice{kDLCUDA, 0};
  EXPECT_TRUE(DeviceMismatch("kl_out", [&] { return select(expert.dl(), amateur.dl(), &sp, &k, keep.dl()); }));
}

TEST_F(ArgumentFault, SelectUnknownDeviceType) {
  DLTensor e = *expert.dl(), a = *amateur.dl(), k = *kl.dl(), kp = *keep.dl();
  for (DLTensor* t : {&e, &a, &k, &kp}) t->device = DLDevice{kDLOpenCL, 0};
  EXPECT_TRUE(Fault({LR_ERR_INVALID_ARGUMENT, LR_ERR_UNSUPPORTED}, {"expert_logits"},
                    [&] { return select(&e, &a, &sp, &k, &kp); }));
}

// A caller may put any int in device_type (found by fuzz/fuzz_capi_args.cpp).
TEST_F(ArgumentFault, SelectDeviceTypeOutsideTheEnum) {
  DLTensor e = *expert.dl(), a = *amateur.dl(), k = *kl.dl(), kp = *keep.dl();
  const int32_t bogus = 1128481573;
  for (DLTensor* t : {&e, &a, &k, &kp}) std::memcpy(&t->device.device_type, &bogus, sizeof bogus);
  EXPECT_TRUE(Invalid("device_type 1128481573", [&] { return select(&e, &a, &sp, &k, &kp); }));
}

// Sizes whose element count or byte span overflows int64 (found by fuzz/fuzz_capi_args.cpp).
TEST_F(ArgumentFault, SelectExpertElementCountOverflows) {
  int64_t shape[2] = {int64_t{1} << 62, 4};
  DLTensor e = *expert.dl();
  e.shape = shape;
  EXPECT_TRUE(Invalid("more elements than int64", [&] { return select(&e, amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectExpertRowStrideSpanOverflows) {
  int64_t strides[2] = {int64_t{1} << 61, 1};
  DLTensor e = *expert.dl();
  e.strides = strides;
  EXPECT_TRUE(Invalid("spans more than 2^63 bytes", [&] { return select(&e, amateur.dl(), &sp, kl.dl(), keep.dl()); }));
}

TEST_F(ArgumentFault, SelectAcceptsEmptyTensorsWithNullDataAndAnOffset) {
  int64_t rows0[2] = {0, V}, n0[1] = {0};
  DLTensor e = *expert.dl(), a = *amateur.dl(), k = *kl.dl();
  e.shape = rows0;
  a.shape = rows0;
  k.shape = n0;
  for (DLTensor* t : {&e, &a, &k}) {
    t->data = nullptr;
    t->byte_offset = 16;
  }
  ASSERT_TRUE(reset_last_error());
  EXPECT_EQ(select(&e, &a, &sp, &k, nullptr), LR_OK) << lr_last_error();
}

TEST_F(ArgumentFault, SelectRefusesAnOffsetThatWrapsTheAddressSpace) {
  // An empty tensor (found by fuzzing): data + byte_offset would wrap, which is undefined.
  int64_t rows0[2] = {0, V};
  DLTensor e = *expert.dl(), a = *amateur.dl();
  e.shape = rows0;
  a.shape = rows0;
  e.byte_offset = ~uint64_t{0} - 15;
  int64_t n0[1] = {0};
  DLTensor k = *kl.dl();
  k.shape = n0;
  EXPECT_TRUE(Invalid("wraps around the address space", [&] { return select(&e, &a, &sp, &k, nullptr); }));
}

TEST_F(ArgumentFault, SelectAcceptsNullParams) {
  ASSERT_TRUE(reset_last_error());
  EXPECT_EQ(select(expert.dl(), amateur.dl(), nullptr, kl.dl(), keep.dl()), LR_OK) << lr_last_error();
  EXPECT_STREQ(lr_last_error(), "");
  HostTensor kl2(Dtype::F32, {N}), keep2(Dtype::U8, {N});
  EXPECT_EQ(select(expert.dl(), amateur.dl(), &sp, kl2.dl(), keep2.dl()), LR_OK) << lr_last_error();
  EXPECT_EQ(kl.bytes(), kl2.bytes()) << "NULL params differs from lr_select_params_default()";
  EXPECT_EQ(keep.bytes(), keep2.bytes());
}

TEST_F(ArgumentFault, SelectAcceptsLargerStructFromNewerCaller) {
  struct Newer {
    lr_select_params v1;
    double appended[4];  // fields a later minor version might add
  } newer{};
  newer.v1 = lr_select_params_default();
  newer.v1.struct_size = static_cast<uint32_t>(sizeof(Newer));
  for (double& d : newer.appended) d = 12345.0;
  HostTensor kl2(Dtype::F32, {N}), keep2(Dtype::U8, {N});
  ASSERT_TRUE(reset_last_error());
  EXPECT_EQ(select(expert.dl(), amateur.dl(), &newer.v1, kl.dl(), keep.dl()), LR_OK) << lr_last_error();
  EXPECT_STREQ(lr_last_error(), "");
  EXPECT_EQ(select(expert.dl(), amateur.dl(), &sp, kl2.dl(), keep2.dl()), LR_OK);
  EXPECT_EQ(kl.bytes(), kl2.bytes());
  EXPECT_EQ(keep.bytes(), keep2.bytes());
}

// ----------------------------------------------------------- lr_build_targets

TEST_F(ArgumentFault, BuildRowIndexEqualsN) {
  rows.set_at(1, N);
  EXPECT_TRUE(Invalid("rows", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), sup_m.dl()); }));
}

TEST_F(ArgumentFault, BuildRowIndexNegative) {
  rows.set_at(0, -1);
  EXPECT_TRUE(Invalid("rows", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), sup_m.dl()); }));
}

TEST_F(ArgumentFault, BuildRowsInt32) {
  HostTensor r32(Dtype::I32, {M});
  r32.set_at(0, 2);
  r32.set_at(1, 0);
  EXPECT_TRUE(Invalid("rows", [&] { return build(expert.dl(), amateur.dl(), r32.dl(), &tp, ids_m.dl(), w_m.dl(), sup_m.dl()); }, {&r32}));
}

TEST_F(ArgumentFault, BuildRowsTwoDimensional) {
  HostTensor r2(Dtype::I64, {M, 1});
  EXPECT_TRUE(Invalid("rows", [&] { return build(expert.dl(), amateur.dl(), r2.dl(), &tp, ids_m.dl(), w_m.dl(), sup_m.dl()); }, {&r2}));
}

TEST_F(ArgumentFault, BuildNullTargetIds) {
  EXPECT_TRUE(Invalid("target_ids", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, nullptr, w_m.dl(), sup_m.dl()); }));
}

TEST_F(ArgumentFault, BuildNullTargetWeights) {
  EXPECT_TRUE(Invalid("target_weights", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), nullptr, sup_m.dl()); }));
}

TEST_F(ArgumentFault, BuildNullSupportSize) {
  EXPECT_TRUE(Invalid("support_size", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), nullptr); }));
}

TEST_F(ArgumentFault, BuildNullExpert) {
  EXPECT_TRUE(Invalid("expert_logits", [&] { return build(nullptr, amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), sup_m.dl()); }));
}

TEST_F(ArgumentFault, BuildKMismatch) {
  HostTensor w3(Dtype::F32, {M, K - 1});
  w3.fill_bytes(kSentinel);
  EXPECT_TRUE(Fault({LR_ERR_INVALID_ARGUMENT}, {"target_weights", "target_ids"},
                    [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w3.dl(), sup_m.dl()); }, {&w3}));
}

TEST_F(ArgumentFault, BuildKZero) {
  HostTensor i0(Dtype::I32, {M, 0}), w0(Dtype::F32, {M, 0});
  EXPECT_TRUE(Fault({LR_ERR_INVALID_ARGUMENT}, {"target_ids", "target_weights"},
                    [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, i0.dl(), w0.dl(), sup_m.dl()); }, {&i0, &w0}));
}

TEST_F(ArgumentFault, BuildTargetRowsMismatchRows) {
  // rows has M entries but the outputs have N rows.
  EXPECT_TRUE(Fault({LR_ERR_INVALID_ARGUMENT}, {"target_ids", "rows"},
                    [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_n.dl(), w_n.dl(), sup_n.dl()); }));
}

TEST_F(ArgumentFault, BuildNullRowsNeedsNOutputRows) {
  // rows == NULL means all N rows, so [M, K] outputs (M != N) are wrong.
  EXPECT_TRUE(Fault({LR_ERR_INVALID_ARGUMENT}, {"target_ids", "rows"},
                    [&] { return build(expert.dl(), amateur.dl(), nullptr, &tp, ids_m.dl(), w_m.dl(), sup_m.dl()); }));
}

TEST_F(ArgumentFault, BuildSupportSizeWrongLength) {
  HostTensor s3(Dtype::I32, {M + 1});
  s3.fill_bytes(kSentinel);
  EXPECT_TRUE(Invalid("support_size", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), s3.dl()); }, {&s3}));
}

TEST_F(ArgumentFault, BuildSupportSizeWrongDtype) {
  HostTensor s64(Dtype::I64, {M});
  s64.fill_bytes(kSentinel);
  EXPECT_TRUE(Invalid("support_size", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), s64.dl()); }, {&s64}));
}

TEST_F(ArgumentFault, BuildTargetIdsWrongDtype) {
  HostTensor i64(Dtype::I64, {M, K});
  i64.fill_bytes(kSentinel);
  EXPECT_TRUE(Invalid("target_ids", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, i64.dl(), w_m.dl(), sup_m.dl()); }, {&i64}));
}

TEST_F(ArgumentFault, BuildTargetWeightsWrongDtype) {
  HostTensor wb(Dtype::BF16, {M, K});
  wb.fill_bytes(kSentinel);
  EXPECT_TRUE(Invalid("target_weights", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), wb.dl(), sup_m.dl()); }, {&wb}));
}

TEST_F(ArgumentFault, BuildBetaZero) {
  tp.beta = 0.0f;
  EXPECT_TRUE(Invalid("beta", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), sup_m.dl()); }));
}

TEST_F(ArgumentFault, BuildBetaAboveOne) {
  tp.beta = 1.5f;
  EXPECT_TRUE(Invalid("beta", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), sup_m.dl()); }));
}

TEST_F(ArgumentFault, BuildBetaNegative) {
  tp.beta = -0.2f;
  EXPECT_TRUE(Invalid("beta", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), sup_m.dl()); }));
}

TEST_F(ArgumentFault, BuildBetaNaN) {
  tp.beta = kNaN;
  EXPECT_TRUE(Invalid("beta", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), sup_m.dl()); }));
}

TEST_F(ArgumentFault, BuildTemperatureZero) {
  tp.temperature = 0.0f;
  EXPECT_TRUE(Invalid("temperature", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), sup_m.dl()); }));
}

TEST_F(ArgumentFault, BuildStructSizeTooSmall) {
  tp.struct_size = static_cast<uint32_t>(sizeof(uint32_t));
  EXPECT_TRUE(Invalid("struct_size", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), sup_m.dl()); }));
}

TEST_F(ArgumentFault, BuildSharedVocabTooLarge) {
  tp.shared_vocab = V + 1;
  EXPECT_TRUE(Invalid("shared_vocab", [&] { return build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), sup_m.dl()); }));
}

TEST_F(ArgumentFault, BuildAcceptsNullParamsAndLargerStruct) {
  struct Newer {
    lr_target_params v1;
    int64_t appended[3];
  } newer{};
  newer.v1 = lr_target_params_default();
  newer.v1.struct_size = static_cast<uint32_t>(sizeof(Newer));
  ASSERT_TRUE(reset_last_error());
  EXPECT_EQ(build(expert.dl(), amateur.dl(), rows.dl(), nullptr, ids_m.dl(), w_m.dl(), sup_m.dl()), LR_OK)
      << lr_last_error();
  HostTensor i2(Dtype::I32, {M, K}), w2(Dtype::F32, {M, K}), s2(Dtype::I32, {M});
  EXPECT_EQ(build(expert.dl(), amateur.dl(), rows.dl(), &newer.v1, i2.dl(), w2.dl(), s2.dl()), LR_OK)
      << lr_last_error();
  EXPECT_STREQ(lr_last_error(), "");
  EXPECT_EQ(ids_m.bytes(), i2.bytes());
  EXPECT_EQ(w_m.bytes(), w2.bytes());
  EXPECT_EQ(sup_m.bytes(), s2.bytes());
}

// -------------------------------------------------------- lr_select_and_build

TEST_F(ArgumentFault, FusedNullKeepOut) {
  EXPECT_TRUE(Invalid("keep_out", [&] {
    return lrtest::select_and_build(expert.dl(), amateur.dl(), &sp, &tp, kl.dl(), nullptr, ids_n.dl(), w_n.dl(),
                               sup_n.dl(), nullptr);
  }));
}

TEST_F(ArgumentFault, FusedNullSupportSize) {
  EXPECT_TRUE(Invalid("support_size", [&] {
    return lrtest::select_and_build(expert.dl(), amateur.dl(), &sp, &tp, kl.dl(), keep.dl(), ids_n.dl(), w_n.dl(),
                               nullptr, nullptr);
  }));
}

TEST_F(ArgumentFault, FusedTargetRowsNotN) {
  EXPECT_TRUE(Invalid("target_ids", [&] {
    return lrtest::select_and_build(expert.dl(), amateur.dl(), &sp, &tp, kl.dl(), keep.dl(), ids_m.dl(), w_m.dl(),
                               sup_m.dl(), nullptr);
  }));
}

TEST_F(ArgumentFault, FusedTemperaturesDisagree) {
  sp.temperature = 2.0f;
  tp.temperature = 1.0f;
  EXPECT_TRUE(Invalid("temperature", [&] { return fused(&sp, &tp); }));
}

TEST_F(ArgumentFault, FusedSharedVocabDisagree) {
  sp.shared_vocab = V - 1;
  tp.shared_vocab = V;
  EXPECT_TRUE(Invalid("shared_vocab", [&] { return fused(&sp, &tp); }));
}

TEST_F(ArgumentFault, FusedBetaNaN) {
  tp.beta = kNaN;
  EXPECT_TRUE(Invalid("beta", [&] { return fused(&sp, &tp); }));
}

TEST_F(ArgumentFault, FusedKlThresholdNaN) {
  sp.kl_threshold = kNaN;
  EXPECT_TRUE(Invalid("kl_threshold", [&] { return fused(&sp, &tp); }));
}

TEST_F(ArgumentFault, FusedTargetStructSizeZero) {
  tp.struct_size = 0;
  EXPECT_TRUE(Invalid("struct_size", [&] { return fused(&sp, &tp); }));
}

TEST_F(ArgumentFault, FusedAmateurInt32) {
  HostTensor a32(Dtype::I32, {N, V});
  EXPECT_TRUE(Invalid("amateur_logits", [&] {
    return lrtest::select_and_build(expert.dl(), a32.dl(), &sp, &tp, kl.dl(), keep.dl(), ids_n.dl(), w_n.dl(),
                               sup_n.dl(), nullptr);
  }, {&a32}));
}

// --------------------------------------------------- lr_distill_loss_backward

TEST_F(ArgumentFault, LossNullLogits) {
  EXPECT_TRUE(Invalid("logits", [&] { return loss(nullptr, loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossNullTargetIds) {
  EXPECT_TRUE(Invalid("target_ids", [&] { return loss(logits.dl(), nullptr, loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossNullTargetWeights) {
  EXPECT_TRUE(Invalid("target_weights", [&] { return loss(logits.dl(), loss_ids.dl(), nullptr, &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossNullLossOut) {
  EXPECT_TRUE(Invalid("loss_out", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, nullptr, grad.dl()); }));
}

TEST_F(ArgumentFault, LossNullLogitsData) {
  DLTensor z = *logits.dl();
  z.data = nullptr;
  EXPECT_TRUE(Invalid("logits", [&] { return loss(&z, loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossLogitsOneDimensional) {
  DLTensor z = *logits.dl();
  z.ndim = 1;
  EXPECT_TRUE(Invalid("logits", [&] { return loss(&z, loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossLogitsNegativeDimension) {
  int64_t shape[2] = {-N, V};
  DLTensor z = *logits.dl();
  z.shape = shape;
  EXPECT_TRUE(Invalid("logits", [&] { return loss(&z, loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossLogitsFloat64) {
  std::vector<double> buf(N * V, 0.0);
  DLTensor z = *logits.dl();
  z.data = buf.data();
  z.dtype = DLDataType{kDLFloat, 64, 1};
  EXPECT_TRUE(Invalid("logits", [&] { return loss(&z, loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), nullptr); }));
}

TEST_F(ArgumentFault, LossTargetIdAtVocabSize) {
  loss_ids.set(2, 1, V);
  EXPECT_TRUE(Invalid("target_ids", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossTargetIdBelowPadding) {
  loss_ids.set(0, 2, -2);
  EXPECT_TRUE(Invalid("target_ids", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossNegativeWeight) {
  loss_w.set(0, 0, 1.2);
  loss_w.set(0, 1, -0.2);
  EXPECT_TRUE(Invalid("target_weights", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossNaNWeight) {
  loss_w.set(2, 3, kNaN);
  EXPECT_TRUE(Invalid("target_weights", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossInfWeight) {
  loss_w.set(1, 0, kInf);
  EXPECT_TRUE(Invalid("target_weights", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossPaddingWithNonzeroWeight) {
  loss_w.set(1, 2, 0.5);  // loss_ids(1, 2) is -1
  EXPECT_TRUE(Fault({LR_ERR_INVALID_ARGUMENT}, {"target_weights", "target_ids"},
                    [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossDuplicateIdInRow) {
  loss_ids.set(2, 3, 5);  // row 2 is {5, 6, 7, 5}
  EXPECT_TRUE(Invalid("target_ids", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossTargetRowsMismatch) {
  HostTensor i2(Dtype::I32, {N - 1, K}), w2(Dtype::F32, {N - 1, K});
  for (int64_t k = 0; k < K; ++k) { i2.set(0, k, k); i2.set(1, k, k); w2.set(0, k, 0.25); w2.set(1, k, 0.25); }
  EXPECT_TRUE(Fault({LR_ERR_INVALID_ARGUMENT}, {"target_ids", "logits"},
                    [&] { return loss(logits.dl(), i2.dl(), w2.dl(), &lp, loss1.dl(), grad.dl()); }, {&i2, &w2}));
}

TEST_F(ArgumentFault, LossKMismatch) {
  HostTensor w3(Dtype::F32, {N, K + 1});
  EXPECT_TRUE(Fault({LR_ERR_INVALID_ARGUMENT}, {"target_weights", "target_ids"},
                    [&] { return loss(logits.dl(), loss_ids.dl(), w3.dl(), &lp, loss1.dl(), grad.dl()); }, {&w3}));
}

TEST_F(ArgumentFault, LossGradPartlyOverlapsLogits) {
  // One buffer of N + 1 rows: logits are rows [0, N), the gradient rows [1, N + 1).
  HostTensor buf(Dtype::F32, {N + 1, V}, -1, 0.0f);
  for (int64_t i = 0; i <= N; ++i)
    for (int64_t j = 0; j < V; ++j) buf.set(i, j, 0.1 * static_cast<double>(i * V + j));
  DLTensor z = *logits.dl();
  z.data = buf.dl()->data;
  DLTensor g = z;
  g.byte_offset = static_cast<uint64_t>(V) * sizeof(float);
  EXPECT_TRUE(Invalid("grad_logits", [&] { return loss(&z, loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), &g); }, {&buf}));
}

TEST_F(ArgumentFault, LossGradSameDataOtherStride) {
  // Same data pointer as the logits but another row stride: not "logits
  // itself", and the views partly overlap.
  HostTensor buf(Dtype::F32, {N, 2 * V}, -1, 0.0f);
  int64_t zs[2] = {V, 1}, gs[2] = {2 * V, 1};
  DLTensor z = *logits.dl();
  z.data = buf.dl()->data;
  z.strides = zs;
  DLTensor g = z;
  g.strides = gs;
  EXPECT_TRUE(Invalid("grad_logits", [&] { return loss(&z, loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), &g); }, {&buf}));
}

TEST_F(ArgumentFault, LossGradWrongDtype) {
  HostTensor gb(Dtype::BF16, {N, V});
  gb.fill_bytes(kSentinel);
  EXPECT_TRUE(Invalid("grad_logits", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), gb.dl()); }, {&gb}));
}

TEST_F(ArgumentFault, LossGradWrongShape) {
  HostTensor gs(Dtype::F32, {N, V - 1});
  gs.fill_bytes(kSentinel);
  EXPECT_TRUE(Invalid("grad_logits", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), gs.dl()); }, {&gs}));
}

TEST_F(ArgumentFault, LossGradOnOtherDevice) {
  DLTensor g = *grad.dl();
  g.device = DLDevice{kDLCUDA, 0};
  EXPECT_TRUE(DeviceMismatch("grad_logits", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), &g); }));
}

TEST_F(ArgumentFault, LossInPlaceWithBadWeightLeavesLogits) {
  // grad_logits == logits (in place) and a fault: the logits stay as they were.
  loss_w.set(0, 0, kNaN);
  EXPECT_TRUE(Invalid("target_weights", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), logits.dl()); }));
}

TEST_F(ArgumentFault, LossOutNoneWantsN) {
  lp.reduction = LR_REDUCTION_NONE;
  EXPECT_TRUE(Invalid("loss_out", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossOutMeanWantsScalar) {
  lp.reduction = LR_REDUCTION_MEAN;
  EXPECT_TRUE(Invalid("loss_out", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, lossN.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossOutWrongDtype) {
  HostTensor l16(Dtype::F16, {1});
  l16.fill_bytes(kSentinel);
  EXPECT_TRUE(Invalid("loss_out", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, l16.dl(), grad.dl()); }, {&l16}));
}

TEST_F(ArgumentFault, LossReductionOutOfRange) {
  lp.reduction = static_cast<lr_reduction>(7);
  EXPECT_TRUE(Invalid("reduction", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossGradScaleNaN) {
  lp.grad_scale = kNaN;
  EXPECT_TRUE(Invalid("grad_scale", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossGradScaleInf) {
  lp.grad_scale = -kInf;
  EXPECT_TRUE(Invalid("grad_scale", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossTemperatureNegative) {
  lp.temperature = -0.5f;
  EXPECT_TRUE(Invalid("temperature", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossStructSizeTooSmall) {
  lp.struct_size = static_cast<uint32_t>(offsetof(lr_loss_params, temperature));
  EXPECT_TRUE(Invalid("struct_size", [&] { return loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }));
}

TEST_F(ArgumentFault, LossLogitsUnalignedByteOffset) {
  HostTensor big(Dtype::F32, {N + 1, V}, -1, 0.0f);
  DLTensor z = *logits.dl();
  z.data = big.dl()->data;
  z.byte_offset = 6;
  EXPECT_TRUE(Invalid("logits", [&] { return loss(&z, loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()); }, {&big}));
}

TEST_F(ArgumentFault, LossAllOnCuda) {
  if (cuda_compiled_in())
    GTEST_SKIP() << "CUDA is compiled in: host pointers labelled kDLCUDA cannot be handed to it safely";
  DLTensor z = *logits.dl(), i = *loss_ids.dl(), w = *loss_w.dl(), l = *loss1.dl(), g = *grad.dl();
  for (DLTensor* t : {&z, &i, &w, &l, &g}) t->device = DLDevice{kDLCUDA, 0};
  EXPECT_TRUE(Fault({LR_ERR_UNSUPPORTED}, {"logits"}, [&] { return loss(&z, &i, &w, &lp, &l, &g); }));
}

TEST_F(ArgumentFault, LossAcceptsNullParamsAndLargerStruct) {
  struct Newer {
    lr_loss_params v1;
    float appended[5];
  } newer{};
  newer.v1 = lr_loss_params_default();
  newer.v1.struct_size = static_cast<uint32_t>(sizeof(Newer));
  ASSERT_TRUE(reset_last_error());
  EXPECT_EQ(loss(logits.dl(), loss_ids.dl(), loss_w.dl(), nullptr, loss1.dl(), grad.dl()), LR_OK) << lr_last_error();
  HostTensor l2(Dtype::F32, {1}), g2(Dtype::F32, {N, V});
  EXPECT_EQ(loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &newer.v1, l2.dl(), g2.dl()), LR_OK) << lr_last_error();
  EXPECT_STREQ(lr_last_error(), "");
  EXPECT_EQ(loss1.bytes(), l2.bytes());
  EXPECT_EQ(grad.bytes(), g2.bytes());
}

// ------------------------------------------------------------ lr_last_error

TEST_F(ArgumentFault, SuccessResetsLastError) {
  sp.temperature = 0.0f;
  ASSERT_EQ(select(expert.dl(), amateur.dl(), &sp, kl.dl(), keep.dl()), LR_ERR_INVALID_ARGUMENT);
  ASSERT_NE(lr_last_error(), nullptr);
  EXPECT_STRNE(lr_last_error(), "");
  sp.temperature = 1.0f;
  // A different entry point succeeding also clears it.
  ASSERT_EQ(loss(logits.dl(), loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()), LR_OK) << lr_last_error();
  ASSERT_NE(lr_last_error(), nullptr);
  EXPECT_STREQ(lr_last_error(), "");
  // And again after a failure in the loss, a successful selection.
  ASSERT_EQ(loss(nullptr, loss_ids.dl(), loss_w.dl(), &lp, loss1.dl(), grad.dl()), LR_ERR_INVALID_ARGUMENT);
  EXPECT_STRNE(lr_last_error(), "");
  ASSERT_EQ(select(expert.dl(), amateur.dl(), &sp, kl.dl(), keep.dl()), LR_OK) << lr_last_error();
  EXPECT_STREQ(lr_last_error(), "");
}

TEST_F(ArgumentFault, LastErrorIsThreadLocal) {
  // This thread succeeds; another thread fails: the failure is only there.
  ASSERT_TRUE(reset_last_error());
  std::string other_msg = "(not run)";
  lr_status other_status = LR_OK;
  std::thread a([&] {
    other_status = lrtest::select_steps(nullptr, amateur.dl(), nullptr, kl.dl(), nullptr, nullptr);
    const char* m = lr_last_error();
    other_msg = m ? m : "(null)";
  });
  a.join();
  EXPECT_EQ(other_status, LR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(other_msg.find("expert_logits"), std::string::npos) << other_msg;
  ASSERT_NE(lr_last_error(), nullptr);
  EXPECT_STREQ(lr_last_error(), "") << "a failure on another thread shows on this one";

  // This thread fails; a fresh thread sees "" and its success leaves this
  // thread's message in place.
  tp.beta = 2.0f;
  ASSERT_EQ(build(expert.dl(), amateur.dl(), rows.dl(), &tp, ids_m.dl(), w_m.dl(), sup_m.dl()),
            LR_ERR_INVALID_ARGUMENT);
  std::string mine = lr_last_error();
  EXPECT_NE(mine.find("beta"), std::string::npos) << mine;
  std::string fresh = "(not run)", after_success = "(not run)";
  lr_status b_status = LR_ERR_INTERNAL;
  std::thread b([&] {
    const char* m = lr_last_error();
    fresh = m ? m : "(null)";
    HostTensor e(Dtype::F32, {1, 2}), am(Dtype::F32, {1, 2}), k(Dtype::F32, {1});
    b_status = lrtest::select_steps(e.dl(), am.dl(), nullptr, k.dl(), nullptr, nullptr);
    m = lr_last_error();
    after_success = m ? m : "(null)";
  });
  b.join();
  EXPECT_EQ(fresh, "") << "a thread that made no call must see \"\"";
  EXPECT_EQ(b_status, LR_OK);
  EXPECT_EQ(after_success, "");
  ASSERT_NE(lr_last_error(), nullptr);
  EXPECT_EQ(std::string(lr_last_error()), mine) << "another thread's success cleared this thread's message";
}

}  // namespace
