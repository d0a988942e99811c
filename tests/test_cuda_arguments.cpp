// What only the CUDA path does with its arguments: memory that is not where
// its label says, tensors split across devices, the K limit of the kernels,
// and the device-resident values the host cannot read without a
// synchronisation (row indices, target entries), which become faults of
// their own rows. Skipped unless the suites run on the GPU.
#include <gtest/gtest.h>
#include <lightreasoner/lightreasoner.h>

#include <cmath>
#include <string>
#include <vector>

#include "support/device_shim.h"
#include "support/host_tensor.h"

#ifdef LR_TEST_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace {

using lrtest::Dtype;
using lrtest::HostTensor;

#ifdef LR_TEST_WITH_CUDA

// Owns device memory mirroring a host tensor, labelled cuda:0.
struct DeviceTensor {
  explicit DeviceTensor(const HostTensor& h) : host(h) {
    bytes = h.bytes().size();
    EXPECT_EQ(cudaMalloc(&ptr, bytes), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(ptr, h.bytes().data(), bytes, cudaMemcpyHostToDevice), cudaSuccess);
    view = *host.dl();
    view.data = ptr;
    view.byte_offset = 0;
    view.device = DLDevice{kDLCUDA, 0};
  }
  ~DeviceTensor() { cudaFree(ptr); }
  HostTensor read() {
    HostTensor out = host;
    EXPECT_EQ(cudaMemcpy(const_cast<uint8_t*>(out.bytes().data()), ptr, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
    return out;
  }
  HostTensor host;
  void* ptr = nullptr;
  size_t bytes = 0;
  DLTensor view{};
};

class CudaArguments : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!lrtest::on_cuda()) GTEST_SKIP() << "the suites run on the CPU (set LR_TEST_DEVICE=cuda on a GPU machine)";
  }
};

HostTensor logits(int64_t n, int64_t v, float base) {
  HostTensor t(Dtype::F32, {n, v});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < v; ++j) t.set(i, j, base + 0.1 * double((i * 7 + j * 3) % 11));
  return t;
}

TEST_F(CudaArguments, BuildInfoSaysCuda) {
  EXPECT_NE(std::string(lr_build_info()).find("CUDA: yes"), std::string::npos) << lr_build_info();
}

TEST_F(CudaArguments, HostMemoryLabelledCudaIsNamed) {
  HostTensor e = logits(2, 16, 0.0f), a = logits(2, 16, 0.5f), kl(Dtype::F32, {2});
  DeviceTensor de(e), da(a);
  DLTensor host_kl = *kl.dl();
  host_kl.device = DLDevice{kDLCUDA, 0};  // a lie: this is host memory
  EXPECT_EQ(lr_select_steps(&de.view, &da.view, nullptr, &host_kl, nullptr, nullptr), LR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lr_last_error()).find("kl_out"), std::string::npos) << lr_last_error();
  EXPECT_NE(std::string(lr_last_error()).find("host memory"), std::string::npos) << lr_last_error();
}

TEST_F(CudaArguments, MixedDevicesAreNamed) {
  HostTensor e = logits(2, 16, 0.0f), a = logits(2, 16, 0.5f), kl(Dtype::F32, {2});
  DeviceTensor de(e), da(a);
  EXPECT_EQ(lr_select_steps(&de.view, &da.view, nullptr, kl.dl(), nullptr, nullptr), LR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lr_last_error()).find("kl_out is on cpu"), std::string::npos) << lr_last_error();
}

TEST_F(CudaArguments, TooManyTargetSlotsIsUnsupported) {
  HostTensor e = logits(1, 16, 0.0f), a = logits(1, 16, 0.5f);
  HostTensor ids(Dtype::I32, {1, 4097}), w(Dtype::F32, {1, 4097}), sup(Dtype::I32, {1});
  DeviceTensor de(e), da(a), di(ids), dw(w), ds(sup);
  EXPECT_EQ(lr_build_targets(&de.view, &da.view, nullptr, nullptr, &di.view, &dw.view, &ds.view, nullptr),
            LR_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(lr_last_error()).find("K = 4097"), std::string::npos) << lr_last_error();
}

TEST_F(CudaArguments, RowIndexOutOfRangeFaultsOnlyItsRow) {
  HostTensor e = logits(3, 32, 0.0f), a = logits(3, 32, 0.5f);
  HostTensor rows(Dtype::I64, {3});
  rows.set_at(0, 2);
  rows.set_at(1, 3);  // N = 3: out of range
  rows.set_at(2, -1);
  HostTensor ids(Dtype::I32, {3, 4}), w(Dtype::F32, {3, 4}), sup(Dtype::I32, {3});
  DeviceTensor de(e), da(a), dr(rows), di(ids), dw(w), ds(sup);
  ASSERT_EQ(lr_build_targets(&de.view, &da.view, &dr.view, nullptr, &di.view, &dw.view, &ds.view, nullptr), LR_OK)
      << lr_last_error();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  HostTensor s = ds.read(), got_ids = di.read();
  EXPECT_GT(s.at(0), 0);
  EXPECT_EQ(s.at(1), -1);
  EXPECT_EQ(s.at(2), -1);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(got_ids.get(1, k), -1);
}

TEST_F(CudaArguments, InvalidTargetEntriesFaultOnlyTheirRows) {
  const int64_t N = 4, V = 32, K = 3;
  HostTensor z = logits(N, V, 0.0f), ids(Dtype::I32, {N, K}), w(Dtype::F32, {N, K});
  for (int64_t i = 0; i < N; ++i)
    for (int64_t k = 0; k < K; ++k) {
      ids.set(i, k, double(k + 1));
      w.set(i, k, 1.0 / 3.0);
    }
  ids.set(1, 2, double(V));  // out of range
  ids.set(2, 2, 1.0);        // id 1 twice
  w.set(3, 0, -0.5);         // negative weight
  HostTensor loss(Dtype::F32, {N}), grad(Dtype::F32, {N, V});
  DeviceTensor dz(z), di(ids), dw(w), dl(loss), dg(grad);
  lr_loss_params p = lr_loss_params_default();
  p.reduction = LR_REDUCTION_NONE;
  ASSERT_EQ(lr_distill_loss_backward(&dz.view, &di.view, &dw.view, &p, &dl.view, &dg.view, nullptr), LR_OK)
      << lr_last_error();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  HostTensor l = dl.read(), g = dg.read();
  EXPECT_TRUE(std::isfinite(l.at(0)));
  for (int64_t i = 1; i < N; ++i) {
    EXPECT_TRUE(std::isnan(l.at(i))) << "row " << i;
    for (int64_t j = 0; j < V; ++j) EXPECT_EQ(g.get(i, j), 0.0) << "row " << i << " col " << j;
  }
}

#else

TEST(CudaArguments, NotBuilt) { GTEST_SKIP() << "this build has no CUDA"; }

#endif

}  // namespace
