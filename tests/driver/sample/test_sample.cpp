// lr_sample: stage 1 (sampling) on tiny random Qwen2 checkpoints with
// different vocabulary sizes (expert 300, amateur 320) and a small byte-level
// tokenizer written here (296 ids), so shared = 296 and the padded rows of
// both models are dropped.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/tiny_model.h"
#include "lightreasoner/torch.h"
#include "model/generate.h"
#include "model/qwen2_model.h"
#include "sample/problems.h"
#include "prompt/chat_prompt.h"
#include "sample/sampler.h"
#include "sample/supervision_merge.h"
#include "sample/supervision_store.h"
#include "sample_fixture.h"
#include "support/small_tokenizer.h"
#include "tokenizer.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace lr::driver;

using namespace lr_sample_test;

// ------------------------------------------------------------------ prompt, problems

TEST(Prompt, ChatMlTemplate) {
  EXPECT_EQ(render_chat_prompt("Please reason step by step.", "1+1?"),
            "<|im_start|>system\nPlease reason step by step.<|im_end|>\n<|im_start|>user\n1+1?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render_chat_prompt("", "q"), "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(std::string(kDefaultSystemPrompt), "Please reason step by step, and put your final answer within \\boxed{}.");
}

TEST(Problems, ReadsConfiguredFieldsWithLineIds) {
  fs::create_directories(kScratch + "/problems");
  const std::string p = kScratch + "/problems/p.jsonl";
  write_text(p, "{\"q\": \"a\", \"a\": \"1\"}\n\n{\"q\": \"b\", \"a\": 2.5, \"x\": 0}\n");
  const auto ps = read_problems(p, "q", "a");
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0].id, 0);
  EXPECT_EQ(ps[0].question, "a");
  EXPECT_EQ(ps[0].answer, "1");
  EXPECT_EQ(ps[1].id, 2);
  EXPECT_EQ(ps[1].answer, "2.5");
  EXPECT_EQ(read_problems(p, "q", "").at(1).answer, "");
}

TEST(Problems, ErrorsNameFileAndLine) {
  fs::create_directories(kScratch + "/problems");
  const std::string p = kScratch + "/problems/bad.jsonl";
  auto message = [&](const std::string& text, const std::string& qf) {
    write_text(p, text);
    try {
      read_problems(p, qf, "answer");
    } catch (const ProblemsError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  std::string m = message("{\"question\": \"a\", \"answer\": \"1\"}\n{\"question\": \"b\"}\n", "question");
  EXPECT_NE(m.find(p + ":2:"), std::string::npos) << m;
  EXPECT_NE(m.find("answer"), std::string::npos) << m;
  m = message("{\"question\": \"a\", \"answer\": \"1\"}\n{oops\n", "question");
  EXPECT_NE(m.find(p + ":2:"), std::string::npos) << m;
  m = message("{\"question\": 3, \"answer\": \"1\"}\n", "question");
  EXPECT_NE(m.find(p + ":1:"), std::string::npos) << m;
  m = message("{\"question\": \"a\", \"answer\": \"1\"}\n", "problem");
  EXPECT_NE(m.find("\"problem\""), std::string::npos) << m;
  EXPECT_THROW(read_problems(kScratch + "/problems/none.jsonl"), ProblemsError);
}

// ------------------------------------------------------------------ the store

TEST(SupervisionStore, DoneMarkersTruncationAndSettings) {
  fs::create_directories(kScratch + "/store");
  const std::string p = kScratch + "/store/s.jsonl";
  fs::remove(p);
  const json settings = {{"k", 4}};
  SupervisionRecord r{3, {1, 2, 3}, 1, 0.5f, {7, 8}, {0.75f, 0.25f}, 2};
  ProblemDone d;
  d.problem = 3;
  d.records = 1;
  d.generated = 1;
  d.positions = 1;
  d.kl_histogram[kl_bin(0.5)] = 1;
  {
    SupervisionStore s = SupervisionStore::open(p, settings);
    s.append_problem({r}, d);
    EXPECT_TRUE(s.is_done(3));
    EXPECT_THROW(s.append_problem({r}, d), SupervisionStoreError);  // done twice
  }
  const std::string complete = read_text(p);
  auto ls = lines_of(p);
  ASSERT_EQ(ls.size(), 3u);
  EXPECT_EQ(json::parse(ls[0]).at("lightreasoner_supervision"), 1);
  EXPECT_EQ(json::parse(ls[1]).at("position"), 1);
  EXPECT_EQ(json::parse(ls[2]).at("done"), 3);
  EXPECT_EQ(json::parse(ls[2]).at("records"), 1);
  // A kill in the middle of the next problem: a record and half of another.
  SupervisionRecord r2 = r;
  r2.problem = 4;
  write_text(p, complete + to_json(r2).dump() + "\n" + to_json(r2).dump().substr(0, 10));
  {
    SupervisionStore s = SupervisionStore::open(p, settings);
    EXPECT_GT(s.truncated_bytes(), 0);
    EXPECT_TRUE(s.is_done(3));
    EXPECT_FALSE(s.is_done(4));
  }
  EXPECT_EQ(read_text(p), complete);
  // Other settings are refused, naming the field.
  try {
    SupervisionStore::open(p, json{{"k", 8}});
    ADD_FAILURE() << "no error";
  } catch (const SupervisionStoreError& e) {
    EXPECT_NE(std::string(e.what()).find("k (file 4, now 8)"), std::string::npos) << e.what();
  }
  // A done marker whose count disagrees with the records is corruption.
  ProblemDone bad = d;
  bad.problem = 5;
  bad.records = 2;
  SupervisionRecord r5 = r;
  r5.problem = 5;
  write_text(p, complete + to_json(r5).dump() + "\n" + to_json(bad).dump() + "\n");
  EXPECT_THROW(SupervisionStore::open(p, settings), SupervisionStoreError);
  EXPECT_THROW(read_supervision(p), SupervisionStoreError);
}

// ------------------------------------------------------------------ sampling

// The expert's unbatched greedy rollout of one problem: prompt ids + generated
// ids, ended right after the first id outside the shared vocabulary.
struct DirectRollout {
  std::vector<int64_t> prompt, rollout;
  int64_t generated = 0;
  bool cut = false;
};

DirectRollout direct_rollout(const Qwen2Model& expert, const Tokenizer& tok, const Problem& p, const SampleOptions& o,
                             int64_t shared) {
  DirectRollout d;
  std::vector<int32_t> enc = tok.encode(render_chat_prompt(o.system_prompt, p.question));
  d.prompt.assign(enc.begin(), enc.end());
  GenerateOptions g;
  g.max_new_tokens = o.max_new_tokens;
  g.stop_ids = o.stop_ids;
  std::vector<int64_t> gen = generate(expert, {d.prompt}, g)[0];
  for (size_t j = 0; j < gen.size(); ++j)
    if (gen[j] >= shared) {
      gen.resize(j + 1);  // the unshared id ends the rollout
      d.cut = true;
      break;
    }
  d.rollout = d.prompt;
  d.rollout.insert(d.rollout.end(), gen.begin(), gen.end());
  d.generated = static_cast<int64_t>(gen.size());
  return d;
}

// One unbatched forward of each model over the rollout, then the library's
// select_and_build on the first `shared` ids of every generated position.
lr::torch_adapter::FusedResult direct_targets(const Qwen2Model& expert, const Qwen2Model& amateur,
                                                       const DirectRollout& d, const SampleOptions& o,
                                                       int64_t shared) {
  torch::NoGradGuard ng;
  // Without the last id, as the sampler does (it may be unshared).
  const std::vector<int64_t> input(d.rollout.begin(), d.rollout.end() - 1);
  const auto ids = torch::tensor(input, torch::kInt64).unsqueeze(0);
  const auto pos = torch::arange(static_cast<int64_t>(d.prompt.size()) - 1, static_cast<int64_t>(input.size()),
                                 torch::kInt64)
                       .unsqueeze(0);
  const auto le = expert.logits_at(ids, {}, pos)[0].narrow(1, 0, shared).contiguous();
  const auto la = amateur.logits_at(ids, {}, pos)[0].narrow(1, 0, shared).contiguous();
  lr::torch_adapter::SelectOptions so;
  so.kl_threshold = o.kl_threshold;
  lr::torch_adapter::TargetOptions to;
  to.k = o.k;
  to.beta = o.beta;
  return lr::torch_adapter::select_and_build(le, la, so, to);
}

// Each generated position of problem `id`: kept in the file iff the direct
// computation keeps it, with its KL and target; counts the positions compared.
void compare_positions(const std::map<int64_t, const SupervisionRecord*>& mine,
                       const lr::torch_adapter::FusedResult& res, const DirectRollout& d,
                       const SampleOptions& o, int64_t id, int64_t& compared) {
  for (int64_t j = 0; j < d.generated; ++j) {
    const int64_t t = static_cast<int64_t>(d.prompt.size()) - 1 + j;
    const float kl = res.kl[j].item<float>();
    if (std::fabs(kl - o.kl_threshold) < 1e-4f * std::max(1.0f, kl)) continue;  // either way within rounding
    const auto it = mine.find(t);
    ASSERT_EQ(it != mine.end(), res.keep[j].item<bool>()) << "problem " << id << " position " << t;
    if (it == mine.end()) continue;
    const SupervisionRecord& r = *it->second;
    EXPECT_NEAR(r.kl, kl, 1e-4f * std::max(1.0f, kl));
    EXPECT_EQ(r.support_size, res.support_size[j].item<int32_t>());
    const int64_t m = std::min<int64_t>(r.support_size, o.k);
    ASSERT_EQ(static_cast<int64_t>(r.target_ids.size()), m);
    for (int64_t s = 0; s < m; ++s) {
      EXPECT_EQ(r.target_ids[static_cast<size_t>(s)], res.ids[j][s].item<int32_t>());
      EXPECT_NEAR(r.target_weights[static_cast<size_t>(s)], res.weights[j][s].item<float>(), 1e-5f);
    }
    ++compared;
  }
}

// Runs sampling with `tok` and checks every problem against a direct
// recomputation: the expert's unbatched greedy rollout, one unbatched forward
// of each model, the library's select_and_build on the first `shared` ids.
void check_against_direct(const Qwen2Model& expert, const Qwen2Model& amateur, const Tokenizer& tok,
                          const std::vector<Problem>& problems, const SampleOptions& o, int64_t shared,
                          const std::string& path) {
  fs::remove(path);
  const SampleStats st = run_sampling(expert, amateur, tok, problems, o, path);
  EXPECT_EQ(st.shared_vocab, shared);
  EXPECT_EQ(st.expert_rows_dropped, expert.config().vocab_size - shared);
  EXPECT_EQ(st.amateur_rows_dropped, amateur.config().vocab_size - shared);
  const SupervisionFile f = read_supervision(path);
  ASSERT_EQ(f.problems.size(), problems.size());
  ASSERT_GT(f.records.size(), 0u);
  int64_t compared = 0, cut = 0;
  for (const Problem& p : problems) {
    const DirectRollout d = direct_rollout(expert, tok, p, o, shared);
    cut += d.cut;
    const int64_t n = d.generated;
    ASSERT_GT(n, 0);
    const auto res = direct_targets(expert, amateur, d, o, shared);
    std::map<int64_t, const SupervisionRecord*> mine;  // position -> record
    for (const auto& r : f.records)
      if (r.problem == p.id) {
        EXPECT_EQ(r.rollout, d.rollout) << "problem " << p.id;  // exactly prompt ids + generated ids
        for (int64_t t = 0; t <= r.position; ++t) EXPECT_LT(r.rollout[static_cast<size_t>(t)], shared);
        mine[r.position] = &r;
      }
    compare_positions(mine, res, d, o, p.id, compared);
    if (::testing::Test::HasFatalFailure()) return;
    for (const auto& dm : f.problems)
      if (dm.problem == p.id) {
        EXPECT_EQ(dm.generated, n);
        EXPECT_EQ(dm.positions, n);
        EXPECT_EQ(dm.records, static_cast<int64_t>(mine.size()));
        EXPECT_EQ(dm.cut_at_unshared, d.cut) << "problem " << p.id;
      }
  }
  EXPECT_GT(compared, 0);
  EXPECT_EQ(st.rollouts_cut_at_unshared, cut);
}

TEST_F(SampleTest, RecordsEqualDirectRecomputation) {
  check_against_direct(*expert_, *amateur_, *tokenizer_, problems_, options(), kTokenizerVocab,
                       out("direct.jsonl"));
}

// A tokenizer of 259 ids (no merges): the expert (300 rows) often generates
// ids that are not tokens; those rollouts end right after such an id.
TEST_F(SampleTest, RolloutsEndAtUnsharedIds) {
  json t = small_tokenizer();
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
  t["model"]["vocab"] = vocab;
  t["model"]["merges"] = json::array();
  t["added_tokens"] = json::array({
      {{"id", 256}, {"content", "<|im_start|>"}, {"special", true}},
      {{"id", 257}, {"content", "<|im_end|>"}, {"special", true}},
      {{"id", 258}, {"content", "<|endoftext|>"}, {"special", true}},
  });
  write_text(out("bytes_tokenizer.json"), t.dump());
  const Tokenizer tok = Tokenizer::from_file(out("bytes_tokenizer.json"));
  ASSERT_EQ(tok.vocab_size(), 259);
  SampleOptions o = options();
  o.stop_ids = {257};
  o.max_new_tokens = 24;
  check_against_direct(*expert_, *amateur_, tok, problems_, o, 259, out("bytes.jsonl"));
  const json js = json::parse(read_text(out("bytes.stats.json")));
  EXPECT_GT(js.at("rollouts_cut_at_unshared").get<int64_t>(), 0);
  EXPECT_EQ(js.at("vocab").at("expert_rows_dropped"), 300 - 259);
  EXPECT_EQ(js.at("vocab").at("amateur_rows_dropped"), 320 - 259);
}

TEST_F(SampleTest, DoneMarkersInProblemOrder) {
  const std::string path = out("markers.jsonl");
  fs::remove(path);
  std::vector<std::pair<int64_t, int64_t>> calls;
  run_sampling(*expert_, *amateur_, *tokenizer_, problems_, options(), path,
               [&](int64_t done, int64_t total) { calls.emplace_back(done, total); });
  ASSERT_EQ(calls.size(), 3u);  // one per batch of 3 (7 problems)
  EXPECT_EQ(calls.front().first, 3);
  EXPECT_EQ(calls.back().first, 7);
  for (const auto& c : calls) EXPECT_EQ(c.second, 7);
  const auto ls = lines_of(path);
  ASSERT_FALSE(ls.empty());
  EXPECT_TRUE(json::parse(ls[0]).contains("settings"));
  int64_t expect_problem = 0, pending = 0;
  for (size_t i = 1; i < ls.size(); ++i) {
    const json j = json::parse(ls[i]);
    if (j.contains("done")) {
      EXPECT_EQ(j.at("done"), expect_problem);
      EXPECT_EQ(j.at("records"), pending);
      ++expect_problem;
      pending = 0;
    } else {
      EXPECT_EQ(j.at("problem"), expect_problem);
      ++pending;
    }
  }
  EXPECT_EQ(expect_problem, static_cast<int64_t>(problems_.size()));
  EXPECT_EQ(pending, 0);
}

TEST_F(SampleTest, ResumeInPiecesEqualsUninterrupted) {
  for (bool greedy : {true, false}) {
    SampleOptions o = options();
    o.greedy = greedy;
    o.temperature = 0.8;
    o.top_p = 0.9;
    o.seed = 42;
    const std::string whole = out(greedy ? "whole_g.jsonl" : "whole_s.jsonl");
    const std::string parts = out(greedy ? "parts_g.jsonl" : "parts_s.jsonl");
    fs::remove(whole);
    fs::remove(parts);
    const SampleStats ws = run(o, whole);
    EXPECT_EQ(ws.problems_this_call, static_cast<int64_t>(problems_.size()));
    o.max_problems_this_call = 2;  // stops in the middle of the first batch of 3
    SampleStats ps = run(o, parts);
    EXPECT_EQ(ps.problems_this_call, 2);
    EXPECT_EQ(ps.problems_done, 2);
    o.max_problems_this_call = 3;
    ps = run(o, parts);
    EXPECT_EQ(ps.problems_already_done, 2);
    EXPECT_EQ(ps.problems_this_call, 3);
    o.max_problems_this_call = -1;
    ps = run(o, parts);
    EXPECT_EQ(ps.problems_this_call, 2);
    EXPECT_EQ(read_text(parts), read_text(whole)) << (greedy ? "greedy" : "sampled");
    EXPECT_EQ(ps.to_json().at("records"), ws.to_json().at("records"));
    // A complete file: nothing more to do.
    ps = run(o, parts);
    EXPECT_EQ(ps.problems_this_call, 0);
    EXPECT_EQ(read_text(parts), read_text(whole));
  }
}

// Sharded (distributed/sharding.h): each shard samples its batches into its
// part, and the parts merged are the whole file, byte for byte (sampled draws
// depend on the batch, not on who computes it); 7 problems in batches of 3:
// uneven shares. No statistics file for a part.
TEST_F(SampleTest, ShardsMergedEqualTheWholeFile) {
  SampleOptions o = options();
  o.greedy = false;
  o.temperature = 0.8;
  o.seed = 7;
  const std::string whole = out("shard_whole.jsonl");
  fs::remove(whole);
  const SampleStats ws = run(o, whole);
  std::vector<int64_t> ids;
  for (const Problem& p : problems_) ids.push_back(p.id);
  for (int world : {2, 3}) {
    std::vector<std::string> parts;
    int64_t written = 0;
    for (int r = 0; r < world; ++r) {
      SampleOptions so = o;
      so.shard = Shard{r, world};
      parts.push_back(out("shard_part" + std::to_string(world) + "_" + std::to_string(r) + ".jsonl"));
      fs::remove(parts.back());
      fs::remove(stats_path_for(parts.back()));
      const SampleStats ps = run(so, parts.back());
      EXPECT_EQ(ps.problems_this_call, so.shard.items_owned(7, 3));
      EXPECT_FALSE(fs::exists(stats_path_for(parts.back())));
      written += ps.problems_this_call;
    }
    EXPECT_EQ(written, 7);
    const std::string merged = out("shard_merged" + std::to_string(world) + ".jsonl");
    fs::remove(merged);
    EXPECT_EQ(merge_supervision_parts(merged, read_supervision(whole).settings, ids, parts), 7);
    EXPECT_EQ(read_text(merged), read_text(whole)) << world;
    EXPECT_EQ(merge_supervision_parts(merged, read_supervision(whole).settings, ids, parts), 0);
    // Problems done elsewhere are skipped: a shard with every problem done elsewhere writes none.
    SampleOptions so = o;
    so.shard = Shard{0, world};
    so.done_elsewhere = std::set<int64_t>(ids.begin(), ids.end());
    fs::remove(out("shard_none.jsonl"));
    EXPECT_EQ(run(so, out("shard_none.jsonl")).problems_this_call, 0);
  }
  // A part with other settings is refused, naming it.
  SampleOptions other = o;
  other.k = o.k + 1;
  const std::string odd = out("shard_odd.jsonl");
  fs::remove(odd);
  run(other, odd);
  try {
    merge_supervision_parts(out("shard_merged_odd.jsonl"), read_supervision(whole).settings, ids, {odd});
    ADD_FAILURE() << "merged a part with other settings";
  } catch (const SupervisionStoreError& e) {
    EXPECT_NE(std::string(e.what()).find(odd), std::string::npos) << e.what();
  }
  EXPECT_EQ(ws.problems_this_call, 7);
}

TEST_F(SampleTest, ResumeAfterKillMidProblemEqualsUninterrupted) {
  const SampleOptions o = options();
  const std::string whole = out("kill_whole.jsonl");
  const std::string killed = out("kill.jsonl");
  fs::remove(whole);
  run(o, whole);
  const std::string text = read_text(whole);
  // Cut in the middle of the second record line of a problem with >= 2 records
  // (or in the middle of a done marker when none has two).
  const auto ls = lines_of(whole);
  size_t offset = 0, cut_at = 0;
  for (size_t i = 0; i + 1 < ls.size(); ++i) {
    const json a = json::parse(ls[i]);
    const json b = json::parse(ls[i + 1]);
    if (i > 0 && a.contains("problem") && b.contains("problem") && a["problem"] == b["problem"] && a["problem"] > 0) {
      cut_at = offset + ls[i].size() + 1 + ls[i + 1].size() / 2;
      break;
    }
    offset += ls[i].size() + 1;
  }
  ASSERT_GT(cut_at, 0u) << "no problem with two records";
  write_text(killed, text.substr(0, cut_at));
  const SampleStats st = run(o, killed);
  EXPECT_GT(st.resume_truncated_bytes, 0);
  EXPECT_EQ(read_text(killed), text);
  // Kills at spread-out byte offsets, from inside the header to inside the last marker.
  for (size_t i = 0; i < 9; ++i) {
    const size_t at = std::min(text.size() - 1, 17 + i * (text.size() / 9));
    write_text(killed, text.substr(0, at));
    run(o, killed);
    EXPECT_EQ(read_text(killed), text) << "killed at byte " << at;
  }
}

TEST_F(SampleTest, StatsAgreeWithRecords) {
  const SampleOptions o = options();
  const std::string path = out("stats.jsonl");
  fs::remove(path);
  const SampleStats st = run(o, path);
  const json js = json::parse(read_text(stats_path_for(path)));
  EXPECT_EQ(stats_path_for(path), out("stats.stats.json"));
  const SupervisionFile f = read_supervision(path);
  int64_t single = 0, truncated = 0, generated = 0;
  std::map<int64_t, int64_t> hist;
  for (const auto& r : f.records) {
    EXPECT_GT(r.kl, o.kl_threshold);
    EXPECT_GE(r.support_size, 1);
    single += r.support_size == 1;
    truncated += r.support_size > o.k;
    ++hist[r.support_size];
    double sum = 0;
    for (float w : r.target_weights) sum += w;
    EXPECT_NEAR(sum, r.support_size > o.k ? sum : 1.0, 1e-5);
    for (size_t s = 1; s < r.target_weights.size(); ++s) EXPECT_GE(r.target_weights[s - 1], r.target_weights[s]);
    for (int32_t id : r.target_ids) EXPECT_LT(id, kTokenizerVocab);
  }
  for (const auto& d : f.problems) generated += d.generated;
  const int64_t records = static_cast<int64_t>(f.records.size());
  EXPECT_EQ(js.at("records"), records);
  EXPECT_EQ(st.records, records);
  EXPECT_EQ(js.at("problems_done"), static_cast<int64_t>(problems_.size()));
  EXPECT_EQ(js.at("generated_tokens"), generated);
  EXPECT_EQ(js.at("positions_scored"), generated);
  EXPECT_DOUBLE_EQ(js.at("kept_fraction").get<double>(), static_cast<double>(records) / static_cast<double>(generated));
  EXPECT_EQ(js.at("single_token_labels"), single);
  EXPECT_DOUBLE_EQ(js.at("single_token_fraction").get<double>(),
                   records ? static_cast<double>(single) / static_cast<double>(records) : 0.0);
  EXPECT_EQ(js.at("truncated_supports"), truncated);
  for (const auto& [size, count] : hist) EXPECT_EQ(js.at("support_histogram").at(std::to_string(size)), count);
  EXPECT_EQ(js.at("support_histogram").size(), hist.size());
  // The KL histogram covers every scored position: the bins wholly above
  // kappa hold only kept steps, the bins wholly below only dropped ones.
  const auto counts = js.at("kl_histogram").at("counts").get<std::vector<int64_t>>();
  ASSERT_EQ(counts.size(), kKlBins);
  int64_t all = 0, surely_kept = 0, maybe_kept = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    all += counts[i];
    const double lower = i == 0 ? -INFINITY : kKlBinEdges[i - 1];
    const double upper = i < kKlBinEdges.size() ? kKlBinEdges[i] : INFINITY;
    if (lower > o.kl_threshold) surely_kept += counts[i];
    if (upper > o.kl_threshold) maybe_kept += counts[i];
  }
  EXPECT_EQ(all + js.at("kl_faults").get<int64_t>(), generated);
  EXPECT_LE(surely_kept, records);
  EXPECT_GE(maybe_kept, records);
  EXPECT_NEAR(js.at("mean_kept_kl").get<double>(), st.mean_kept_kl, 1e-12);
  EXPECT_EQ(js.at("vocab").at("shared"), kTokenizerVocab);
  // Mixed data: some steps kept, some not.
  EXPECT_GT(records, 0);
  EXPECT_LT(records, generated);
}

TEST_F(SampleTest, OtherSettingsRefuseToResume) {
  SampleOptions o = options();
  const std::string path = out("settings.jsonl");
  fs::remove(path);
  o.max_problems_this_call = 1;
  run(o, path);
  o.kl_threshold = kappa_ + 0.5f;
  EXPECT_THROW(run(o, path), SupervisionStoreError);
}
