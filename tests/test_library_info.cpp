// The library's self-description: ABI version, build facts, status names and
// parameter defaults, all as the public header states them.
#include <gtest/gtest.h>

#include <lightreasoner/lightreasoner.h>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <thread>

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(LibraryInfo, AbiVersionMatchesHeader) {
  EXPECT_EQ(lr_abi_version(), (1u << 16) | 1u);  // 1.1: the lr_shard_* calls
  EXPECT_EQ(lr_abi_version(),
            (static_cast<uint32_t>(LR_ABI_VERSION_MAJOR) << 16) | static_cast<uint32_t>(LR_ABI_VERSION_MINOR));
  EXPECT_EQ(lr_abi_version() >> 16, static_cast<uint32_t>(LR_ABI_VERSION_MAJOR));
}

TEST(LibraryInfo, BuildInfoNamesVersionAndCuda) {
  const char* info = lr_build_info();
  ASSERT_NE(info, nullptr);
  std::string s = info;
  EXPECT_FALSE(s.empty());
  // The library (project) version, 0.1.0.
  EXPECT_NE(s.find("0.1.0"), std::string::npos) << s;
  // Whether CUDA is compiled in: "CUDA: yes ..." or "CUDA: no".
  std::string l = lower(s);
  bool says_yes = l.find("cuda: yes") != std::string::npos;
  bool says_no = l.find("cuda: no") != std::string::npos;
  EXPECT_TRUE(says_yes != says_no) << "build info should say exactly one of \"CUDA: yes\"/\"CUDA: no\": " << s;
  // Static storage: the same pointer and text every time.
  EXPECT_EQ(lr_build_info(), info);
  EXPECT_EQ(std::string(lr_build_info()), s);
}

TEST(LibraryInfo, StatusStringsDistinctAndNamed) {
  const lr_status all[] = {LR_OK, LR_ERR_INVALID_ARGUMENT, LR_ERR_UNSUPPORTED,
                           LR_ERR_OUT_OF_MEMORY, LR_ERR_CUDA, LR_ERR_INTERNAL};
  const char* names[] = {"LR_OK", "LR_ERR_INVALID_ARGUMENT", "LR_ERR_UNSUPPORTED",
                         "LR_ERR_OUT_OF_MEMORY", "LR_ERR_CUDA", "LR_ERR_INTERNAL"};
  std::set<std::string> seen;
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i) {
    const char* s = lr_status_string(all[i]);
    ASSERT_NE(s, nullptr) << "status " << static_cast<int>(all[i]);
    EXPECT_STRNE(s, "");
    EXPECT_NE(std::string(s).find(names[i]), std::string::npos) << s;
    EXPECT_TRUE(seen.insert(s).second) << "duplicate status string " << s;
  }
  EXPECT_STREQ(lr_status_string(LR_OK), "LR_OK");
  for (int bad : {6, 42, -1, 1000000}) {
    const char* s = lr_status_string(static_cast<lr_status>(bad));
    ASSERT_NE(s, nullptr) << "status " << bad;
    EXPECT_NE(lower(s).find("unknown"), std::string::npos) << bad << " -> " << s;
    EXPECT_EQ(seen.count(s), 0u) << "an out-of-range status reads as a real one: " << s;
  }
}

TEST(LibraryInfo, SelectParamsDefaults) {
  lr_select_params p = lr_select_params_default();
  EXPECT_EQ(p.struct_size, sizeof(lr_select_params));
  EXPECT_FLOAT_EQ(p.kl_threshold, 0.4f);
  EXPECT_EQ(p.temperature, 1.0f);
  EXPECT_EQ(p.shared_vocab, 0);
}

TEST(LibraryInfo, TargetParamsDefaults) {
  lr_target_params p = lr_target_params_default();
  EXPECT_EQ(p.struct_size, sizeof(lr_target_params));
  EXPECT_FLOAT_EQ(p.beta, 0.2f);
  EXPECT_EQ(p.temperature, 1.0f);
  EXPECT_EQ(p.shared_vocab, 0);
}

TEST(LibraryInfo, LossParamsDefaults) {
  lr_loss_params p = lr_loss_params_default();
  EXPECT_EQ(p.struct_size, sizeof(lr_loss_params));
  EXPECT_EQ(p.reduction, LR_REDUCTION_MEAN);
  EXPECT_EQ(p.grad_scale, 1.0f);
  EXPECT_EQ(p.temperature, 1.0f);
}

TEST(LibraryInfo, LastErrorEmptyOnFreshThread) {
  // lr_last_error() is never NULL, and "" on a thread that has made no call.
  std::string seen = "(not run)";
  std::thread t([&] {
    const char* e = lr_last_error();
    seen = e ? e : "(null)";
  });
  t.join();
  EXPECT_EQ(seen, "");
}

}  // namespace

// The pointer-out defaults: same values as the by-value ones, only
// struct_size bytes written, a too-small size or NULL refused.
TEST(LibraryInfo, ParamsInitWritesDefaultsThroughAPointer) {
  lr_select_params sp;
  std::memset(&sp, 0x7F, sizeof sp);
  ASSERT_EQ(lr_select_params_init(&sp, sizeof sp), LR_OK) << lr_last_error();
  const lr_select_params sd = lr_select_params_default();
  EXPECT_EQ(sp.struct_size, sizeof sp);
  EXPECT_EQ(sp.kl_threshold, sd.kl_threshold);
  EXPECT_EQ(sp.temperature, sd.temperature);
  EXPECT_EQ(sp.shared_vocab, sd.shared_vocab);

  lr_target_params tp;
  ASSERT_EQ(lr_target_params_init(&tp, sizeof tp), LR_OK);
  EXPECT_EQ(tp.beta, 0.2f);
  lr_loss_params lp;
  ASSERT_EQ(lr_loss_params_init(&lp, sizeof lp), LR_OK);
  EXPECT_EQ(lp.reduction, LR_REDUCTION_MEAN);
  EXPECT_EQ(lp.grad_scale, 1.0f);
}

TEST(LibraryInfo, ParamsInitFromANewerCallerLeavesTheTailAlone) {
  struct Newer {
    lr_loss_params v1;
    float future_field;
  } n;
  n.future_field = 123.0f;
  ASSERT_EQ(lr_loss_params_init(&n.v1, sizeof n), LR_OK) << lr_last_error();
  EXPECT_EQ(n.v1.struct_size, sizeof n);
  EXPECT_EQ(n.v1.temperature, 1.0f);
  EXPECT_EQ(n.future_field, 123.0f);
}

TEST(LibraryInfo, ParamsInitRefusesSmallSizesAndNull) {
  lr_target_params tp;
  std::memset(&tp, 0x5A, sizeof tp);
  const lr_target_params before = tp;
  EXPECT_EQ(lr_target_params_init(&tp, sizeof tp - 1), LR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lr_last_error()).find("struct_size"), std::string::npos) << lr_last_error();
  EXPECT_EQ(std::memcmp(&tp, &before, sizeof tp), 0);
  EXPECT_EQ(lr_select_params_init(nullptr, sizeof(lr_select_params)), LR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lr_last_error()).find("params"), std::string::npos);
}
