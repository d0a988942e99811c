// The adapter's option structs default to the library's parameters, read here
// on their own through lr_*_params_default(); only TargetOptions::k, which
// sizes the outputs and has no library default, is the adapter's.
#include <gtest/gtest.h>
#include <lightreasoner/lightreasoner.h>
#include <lightreasoner/torch.h>

namespace {

namespace lt = lr::torch_adapter;

TEST(TorchAdapterOptions, SelectDefaultsAreTheLibrarys) {
  const lr_select_params want = lr_select_params_default();
  const lt::SelectOptions got;
  EXPECT_EQ(got.kl_threshold, want.kl_threshold);
  EXPECT_EQ(got.temperature, want.temperature);
  EXPECT_EQ(got.shared_vocab, want.shared_vocab);
}

TEST(TorchAdapterOptions, TargetDefaultsAreTheLibrarysAndKIsTheAdapters) {
  const lr_target_params want = lr_target_params_default();
  const lt::TargetOptions got;
  EXPECT_EQ(got.beta, want.beta);
  EXPECT_EQ(got.temperature, want.temperature);
  EXPECT_EQ(got.shared_vocab, want.shared_vocab);
  EXPECT_EQ(got.k, 8);  // the adapter's documented K
}

TEST(TorchAdapterOptions, LossDefaultsAreTheLibrarys) {
  const lr_loss_params want = lr_loss_params_default();
  const lt::LossOptions got;
  EXPECT_EQ(static_cast<int>(got.reduction), static_cast<int>(want.reduction));
  EXPECT_EQ(got.temperature, want.temperature);
}

TEST(TorchAdapterOptions, ReductionValuesAreTheLibrarys) {
  EXPECT_EQ(static_cast<int>(lt::Reduction::None), static_cast<int>(LR_REDUCTION_NONE));
  EXPECT_EQ(static_cast<int>(lt::Reduction::Sum), static_cast<int>(LR_REDUCTION_SUM));
  EXPECT_EQ(static_cast<int>(lt::Reduction::Mean), static_cast<int>(LR_REDUCTION_MEAN));
}

}  // namespace
