// The paper's ablations in stage 1 (sample.selection, sample.targets): which
// positions are kept and what they are trained toward, each checked against an
// independent reference: the "kl" run's records, the expert's logits from an
// unbatched forward with the beta-masked softmax brute-forced in double.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sample/ablation_targets.h"
#include "sample/step_selection.h"
#include "sample_fixture.h"

using namespace lr_sample_test;

namespace {

using Positions = std::map<int64_t, std::set<int64_t>>;  // problem -> kept positions

Positions positions_of(const SupervisionFile& f) {
  Positions out;
  for (const SupervisionRecord& r : f.records) out[r.problem].insert(r.position);
  return out;
}

std::map<std::pair<int64_t, int64_t>, const SupervisionRecord*> by_position(const SupervisionFile& f) {
  std::map<std::pair<int64_t, int64_t>, const SupervisionRecord*> out;
  for (const SupervisionRecord& r : f.records) out[{r.problem, r.position}] = &r;
  return out;
}

// The expert's logits over the shared ids after rollout[0..t], one unbatched
// forward, in double.
std::vector<double> expert_logits_at(const Qwen2Model& expert, const std::vector<int64_t>& rollout, int64_t t) {
  torch::NoGradGuard ng;
  const std::vector<int64_t> prefix(rollout.begin(), rollout.begin() + t + 1);
  const auto ids = torch::tensor(prefix, torch::kInt64).unsqueeze(0);
  const auto pos = torch::tensor(std::vector<int64_t>{t}, torch::kInt64).unsqueeze(0);
  const auto z = expert.logits_at(ids, {}, pos)[0][0].narrow(0, 0, kTokenizerVocab).to(torch::kDouble).contiguous();
  return {z.data_ptr<double>(), z.data_ptr<double>() + z.numel()};
}

struct BruteTarget {
  std::vector<int32_t> ids;
  std::vector<double> weights;
  int64_t support = 0;
  double margin = INFINITY;  // distance of the nearest logit to the support's edge
};

// p_E on M = {a : z_a - z_max >= log beta}, the k largest (ties: lower id), renormalised.
BruteTarget brute_expert_target(const std::vector<double>& z, int64_t k, double beta) {
  const double zmax = *std::max_element(z.begin(), z.end()), edge = zmax + std::log(beta);
  BruteTarget b;
  std::vector<int32_t> m;
  for (size_t a = 0; a < z.size(); ++a) {
    b.margin = std::min(b.margin, std::fabs(z[a] - edge));
    if (z[a] - zmax >= std::log(beta)) m.push_back(static_cast<int32_t>(a));
  }
  b.support = static_cast<int64_t>(m.size());
  std::stable_sort(m.begin(), m.end(), [&](int32_t x, int32_t y) { return z[size_t(x)] > z[size_t(y)]; });
  m.resize(static_cast<size_t>(std::min<int64_t>(k, b.support)));
  double sum = 0;
  for (int32_t a : m) sum += std::exp(z[size_t(a)] - zmax);
  for (int32_t a : m) {
    b.ids.push_back(a);
    b.weights.push_back(std::exp(z[size_t(a)] - zmax) / sum);
  }
  return b;
}

class AblationTest : public SampleTest {
 protected:
  static SupervisionFile sampled(const SampleOptions& o, const std::string& name) {
    fs::remove(out(name));
    run(o, out(name));
    return read_supervision(out(name));
  }
  static SampleOptions with(const std::string& selection, const std::string& targets) {
    SampleOptions o = options();
    o.selection = selection;
    o.targets = targets;
    return o;
  }
};

}  // namespace

// ------------------------------------------------------------------ step selection

TEST(StepSelection, RandomPositionsAreASeededUniformSubset) {
  const std::vector<int64_t> c = {3, 5, 8, 13};
  EXPECT_TRUE(random_positions(c, 0, 1, 7).empty());
  EXPECT_EQ(random_positions(c, 4, 1, 7), c);
  EXPECT_THROW(random_positions(c, 5, 1, 7), std::invalid_argument);
  std::map<int64_t, int64_t> hits;
  int64_t differs = 0;
  for (int64_t problem = 0; problem < 4000; ++problem) {
    const auto two = random_positions(c, 2, 1, problem);
    ASSERT_EQ(two.size(), 2u);
    EXPECT_LT(two[0], two[1]);
    for (int64_t p : two) ++hits[p];
    EXPECT_EQ(two, random_positions(c, 2, 1, problem));
    differs += two != random_positions(c, 2, 2, problem);
  }
  for (int64_t p : c) EXPECT_NEAR(static_cast<double>(hits[p]) / 4000.0, 0.5, 0.04) << p;  // each in 2 of 4
  EXPECT_GT(differs, 2000);  // another seed, other draws (5 of 6 pairs differ)
}

TEST(ExpertTargets, TiesGoToTheLowerIdAndFaultsArePadding) {
  // Row 0: three tied maxima (ids 1, 2, 4); row 1: a NaN.
  const std::vector<float> v = {1, 3, 3, 2, 3, 0, NAN, 1, 0, 0};
  const auto z = torch::tensor(v).reshape({2, 5});
  const auto rows = torch::tensor(std::vector<int64_t>{0, 1}, torch::kInt64);
  const ExpertTargets e = expert_targets(z, rows, "expert", 2, 0.5f);
  EXPECT_EQ(e.ids[0][0].item<int32_t>(), 1);
  EXPECT_EQ(e.ids[0][1].item<int32_t>(), 2);
  EXPECT_NEAR(e.weights[0][0].item<float>(), 0.5f, 1e-6f);
  EXPECT_EQ(e.support_size[0].item<int32_t>(), 3);  // 2 >= 3 + log 0.5 is false: only the three 3s
  EXPECT_EQ(e.support_size[1].item<int32_t>(), -1);
  EXPECT_EQ(e.ids[1][0].item<int32_t>(), -1);
  EXPECT_EQ(e.weights[1][0].item<float>(), 0.0f);
  const ExpertTargets a = expert_targets(z, rows.narrow(0, 0, 1), "argmax", 3, 0.5f);
  EXPECT_EQ(a.ids[0][0].item<int32_t>(), 1);
  EXPECT_EQ(a.ids[0][1].item<int32_t>(), -1);
  EXPECT_EQ(a.weights[0][0].item<float>(), 1.0f);
  EXPECT_EQ(a.support_size[0].item<int32_t>(), 1);
}

// "all": every position with a finite KL, the same record as "kl" wherever "kl" keeps one.
TEST_F(AblationTest, AllKeepsEveryFinitePosition) {
  const SupervisionFile all = sampled(with("all", "contrastive"), "sel_all.jsonl");
  const SupervisionFile kl = sampled(options(), "sel_kl.jsonl");
  const SampleStats st = supervision_stats(out("sel_all.jsonl"), options().k);
  EXPECT_EQ(st.records, st.positions_scored - st.kl_faults);
  EXPECT_GT(st.records, static_cast<int64_t>(kl.records.size()));
  const Positions kept = positions_of(all);
  for (const SupervisionRecord& r : all.records) EXPECT_TRUE(std::isfinite(r.kl));
  for (const ProblemDone& d : all.problems) {
    const size_t n = kept.count(d.problem) ? kept.at(d.problem).size() : 0u;
    EXPECT_EQ(static_cast<int64_t>(n), d.positions - d.kl_faults) << "problem " << d.problem;
  }
  const auto mine = by_position(all);
  for (const SupervisionRecord& r : kl.records) {
    const auto it = mine.find({r.problem, r.position});
    ASSERT_NE(it, mine.end()) << "problem " << r.problem << " position " << r.position;
    EXPECT_EQ(to_json(*it->second).dump(), to_json(r).dump());
  }
  EXPECT_EQ(all.settings.at("selection"), "all");
}

// "random": "kl"'s count per problem, other positions, seeded draws, true KLs.
TEST_F(AblationTest, RandomKeepsTheKlCountAtSeededPositions) {
  SampleOptions o = with("random", "contrastive");
  o.seed = 5;
  const SupervisionFile rnd = sampled(o, "sel_random.jsonl");
  const SupervisionFile kl = sampled(options(), "sel_kl2.jsonl");
  const SupervisionFile all = sampled(with("all", "contrastive"), "sel_all2.jsonl");
  const Positions rp = positions_of(rnd), kp = positions_of(kl);
  for (const ProblemDone& d : kl.problems) {
    const auto count = [&](const Positions& p) { return p.count(d.problem) ? p.at(d.problem).size() : 0u; };
    EXPECT_EQ(count(rp), count(kp)) << "problem " << d.problem;
    EXPECT_EQ(count(kp), static_cast<size_t>(d.records));
  }
  EXPECT_NE(rp, kp);
  const auto every = by_position(all);  // the record "all" writes at that position: KL and target alike
  for (const SupervisionRecord& r : rnd.records)
    EXPECT_EQ(to_json(r).dump(), to_json(*every.at({r.problem, r.position})).dump());
  EXPECT_EQ(rnd.settings.at("selection_seed"), 5);
  // Same seed: the same file, in one call or resumed in pieces; another seed: other positions.
  o.max_problems_this_call = 2;
  fs::remove(out("sel_random_parts.jsonl"));
  run(o, out("sel_random_parts.jsonl"));
  o.max_problems_this_call = -1;
  run(o, out("sel_random_parts.jsonl"));
  EXPECT_EQ(read_text(out("sel_random_parts.jsonl")), read_text(out("sel_random.jsonl")));
  o.seed = 6;
  EXPECT_NE(positions_of(sampled(o, "sel_random6.jsonl")), rp);
}

// "expert": the records "kl" keeps, with p_E beta-masked and renormalised (brute force in double).
TEST_F(AblationTest, ExpertTargetsAreTheMaskedExpertDistribution) {
  SampleOptions o = with("kl", "expert");
  o.k = 2;  // some supports are truncated
  o.beta = 0.05f;
  const SupervisionFile f = sampled(o, "tgt_expert.jsonl");
  SampleOptions ok = options();
  ok.k = 2;
  ok.beta = 0.05f;
  EXPECT_EQ(positions_of(f), positions_of(sampled(ok, "tgt_kl.jsonl")));
  int64_t compared = 0, truncated = 0;
  for (const SupervisionRecord& r : f.records) {
    const BruteTarget b = brute_expert_target(expert_logits_at(*expert_, r.rollout, r.position), o.k, o.beta);
    if (b.margin < 1e-4) continue;  // membership within rounding of the edge
    EXPECT_EQ(r.support_size, b.support);
    ASSERT_EQ(r.target_ids, b.ids) << "problem " << r.problem << " position " << r.position;
    for (size_t s = 0; s < b.ids.size(); ++s) EXPECT_NEAR(r.target_weights[s], b.weights[s], 2e-5);
    truncated += b.support > o.k;
    ++compared;
  }
  EXPECT_GT(compared, static_cast<int64_t>(f.records.size()) / 2);
  EXPECT_GT(truncated, 0);
  EXPECT_EQ(f.settings.at("targets"), "expert");
}

// "argmax": one-hot on the expert's top token, which greedy rollouts generated.
TEST_F(AblationTest, ArgmaxTargetsAreTheExpertsOwnToken) {
  const SupervisionFile f = sampled(with("all", "argmax"), "tgt_argmax.jsonl");
  ASSERT_GT(f.records.size(), 0u);
  int64_t own = 0;
  for (const SupervisionRecord& r : f.records) {
    const std::vector<double> z = expert_logits_at(*expert_, r.rollout, r.position);
    const auto top = std::max_element(z.begin(), z.end()) - z.begin();
    EXPECT_EQ(r.support_size, 1);
    ASSERT_EQ(r.target_ids.size(), 1u);
    EXPECT_EQ(r.target_ids[0], top);
    EXPECT_EQ(r.target_weights[0], 1.0f);
    std::vector<double> sorted = z;
    std::sort(sorted.rbegin(), sorted.rend());
    const int64_t next = r.rollout[static_cast<size_t>(r.position + 1)];
    if (next < kTokenizerVocab && sorted[0] - sorted[1] > 1e-4) {
      EXPECT_EQ(r.target_ids[0], next);
    }
    own += next == r.target_ids[0];
  }
  EXPECT_GT(own, 0);
}

// The defaults named explicitly: the same file, with the same header as before the switches.
TEST_F(AblationTest, DefaultsWriteTheSameFile) {
  sampled(options(), "default.jsonl");
  const SupervisionFile f = sampled(with("kl", "contrastive"), "explicit.jsonl");
  EXPECT_EQ(read_text(out("explicit.jsonl")), read_text(out("default.jsonl")));
  for (const char* key : {"selection", "selection_seed", "targets"}) EXPECT_FALSE(f.settings.contains(key)) << key;
}

TEST_F(AblationTest, ResumeWithAnotherSwitchIsRefusedNamingIt) {
  SampleOptions o = options();
  o.max_problems_this_call = 1;
  fs::remove(out("switch.jsonl"));
  run(o, out("switch.jsonl"));
  for (const auto& [selection, targets] : {std::pair{"all", "contrastive"}, std::pair{"kl", "argmax"}}) {
    SampleOptions other = with(selection, targets);
    try {
      run(other, out("switch.jsonl"));
      ADD_FAILURE() << "no error";
    } catch (const SupervisionStoreError& e) {
      const std::string key = std::string(selection) == "all" ? "selection" : "targets";
      EXPECT_NE(std::string(e.what()).find(key + " (new)"), std::string::npos) << e.what();
    }
  }
  SampleOptions bad = with("every", "contrastive");
  EXPECT_THROW(run(bad, out("bad.jsonl")), std::invalid_argument);
}
