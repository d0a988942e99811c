// The schema: the one list of the config's keys, in file order, with each
// key's type and check. Reading (config_reader), key listing for overrides
// and "did you mean" (schema_keys), writing (to_toml) and equality all walk
// it, so they never disagree. Each key's default is its field's initialiser
// (experiment_config.h, from defaults.h); its documentation is configs/paper.toml.
//
// A visitor V provides section(name, fn), str(key, field, StrCheck),
// integer(key, field, lo, hi), real(key, field, RealCheck), boolean(key, field),
// str_list(key, field, need_nonempty), int_list(key, field, lo, hi) and
// datasets(key, field).
#pragma once

#include "config_checks.h"
#include "experiment_config.h"

namespace lr::driver::config_internal {

// The keys of one eval.datasets table entry, in the writer's order.
inline constexpr const char* kDatasetKeys[] = {"name",         "file",          "question_field",
                                               "answer_field", "context_field", "choices_field"};

inline constexpr int64_t kMaxTokenId = (int64_t{1} << 31) - 1;
inline constexpr int64_t kMaxCount = int64_t{1} << 20;  // tokens, batch sizes, epochs

template <class V>
void visit_run(RunConfig& r, V& v) {
  v.str("out_dir", r.out_dir, nonempty);
  v.integer("seed", r.seed, 0, kMaxInt);
  v.str("device", r.device, check_device);
  v.str("dtype", r.dtype, one_of({"float32", "bfloat16"}));
  v.str("backend", r.backend, one_of({"auto", "nccl", "gloo"}));
  v.real("peer_timeout", r.peer_timeout, in_range(0, true, 86400, false));
  v.real("rendezvous_timeout", r.rendezvous_timeout, in_range(0, true, 86400, false));
}

template <class V>
void visit_models(ModelsConfig& m, V& v) {
  v.str("expert", m.expert, nullptr);
  v.str("amateur", m.amateur, nullptr);
  v.boolean("make_tiny", m.make_tiny);
  v.boolean("pretrain", m.pretrain);
  v.section("tiny", [&] {
    auto& t = m.tiny;
    v.str("tokenizer", t.tokenizer, nullptr);
    v.integer("vocab", t.vocab, 0, int64_t{1} << 24);
    v.integer("expert_layers", t.expert_layers, 1, 256);
    v.integer("expert_hidden", t.expert_hidden, 2, int64_t{1} << 16);
    v.integer("amateur_layers", t.amateur_layers, 1, 256);
    v.integer("amateur_hidden", t.amateur_hidden, 2, int64_t{1} << 16);
    v.integer("heads", t.heads, 1, 1024);
    v.integer("kv_heads", t.kv_heads, 1, 1024);
    v.integer("expert_seed", t.expert_seed, 0, kMaxInt);
    v.integer("amateur_seed", t.amateur_seed, 0, kMaxInt);
  });
}

template <class V>
void visit_data_and_prompt(ExperimentConfig& c, V& v) {
  v.section("data", [&] {
    v.str("bundled_dir", c.data.bundled_dir, nullptr);
    v.str("train_file", c.data.train_file, nullptr);
    v.str("question_field", c.data.question_field, nonempty);
    v.str("answer_field", c.data.answer_field, nonempty);
    v.integer("num_problems", c.data.num_problems, 0, kMaxInt);
    v.boolean("shuffle", c.data.shuffle);
  });
  v.section("prompt", [&] {
    v.str("system", c.prompt.system, nullptr);
    v.str("template", c.prompt.templ, has_question);
    v.str("eval_template_base", c.prompt.eval_template_base, has_question);
  });
}

template <class V>
void visit_sample(SampleConfig& s, V& v) {
  v.integer("max_new_tokens", s.max_new_tokens, 1, kMaxCount);
  v.boolean("greedy", s.greedy);
  v.real("temperature", s.temperature, in_range(0, true, kInf, true));
  v.real("top_p", s.top_p, in_range(0, true, 1, false));
  v.integer("batch_size", s.batch_size, 1, kMaxCount);
  v.int_list("stop_ids", s.stop_ids, 0, kMaxTokenId);
  v.real("kl_threshold", s.kl_threshold, in_range(0, false, kInf, true));
  v.real("beta", s.beta, in_range(0, true, 1, false));
  v.integer("k", s.k, 1, 1 << 16);
  v.integer("shared_vocab", s.shared_vocab, 0, kMaxTokenId);
  v.str("selection", s.selection, one_of({"kl", "all", "random"}));
  v.str("targets", s.targets, one_of({"contrastive", "expert", "argmax"}));
}

template <class V>
void visit_lora(LoraSection& l, V& v) {
  v.integer("r", l.r, 1, defaults::lora::max_r);
  v.real("alpha", l.alpha, in_range(0, true, kInf, true));
  v.real("dropout", l.dropout, in_range(0, false, 1, true));
  v.str_list("target_modules", l.target_modules, true);
}

template <class V>
void visit_train(TrainConfig& t, V& v) {
  v.real("lr", t.lr, in_range(0, true, kInf, true));
  v.real("weight_decay", t.weight_decay, in_range(0, false, kInf, true));
  v.real("adam_beta1", t.adam_beta1, in_range(0, false, 1, true));
  v.real("adam_beta2", t.adam_beta2, in_range(0, false, 1, true));
  v.real("adam_eps", t.adam_eps, in_range(0, true, kInf, true));
  v.integer("warmup_steps", t.warmup_steps, 0, kMaxInt);
  v.str("schedule", t.schedule, one_of({"linear", "constant"}));
  v.real("grad_clip", t.grad_clip, in_range(0, false, kInf, true));
  v.integer("batch_size", t.batch_size, 1, kMaxCount);
  v.integer("grad_accum", t.grad_accum, 1, kMaxCount);
  v.integer("samples_per_pass", t.samples_per_pass, 1, kMaxCount);
  v.integer("updates", t.updates, 1, kMaxInt);
  v.integer("max_seq_len", t.max_seq_len, 2, int64_t{1} << 24);
  v.integer("checkpoint_every", t.checkpoint_every, 0, kMaxInt);
  v.boolean("packed", t.packed);
  v.boolean("export_merged", t.export_merged);
}

template <class V>
void visit_eval(EvalConfig& e, V& v) {
  v.datasets("datasets", e.datasets);
  v.integer("max_new_tokens", e.max_new_tokens, 1, kMaxCount);
  v.integer("batch_size", e.batch_size, 1, kMaxCount);
  v.integer("limit", e.limit, 0, kMaxInt);
  v.int_list("stop_ids", e.stop_ids, 0, kMaxTokenId);
  v.str_list("plain_stop_strings", e.plain_stop_strings, false);
  v.str("base_prompt", e.base_prompt, one_of({"plain", "cot"}));
  v.str("tuned_prompt", e.tuned_prompt, one_of({"plain", "cot"}));
}

template <class V>
void visit_sft(SftConfig& s, V& v) {
  v.boolean("enabled", s.enabled);
  v.integer("max_new_tokens", s.max_new_tokens, 1, kMaxCount);
  v.integer("num_problems", s.num_problems, 0, kMaxInt);
  v.integer("batch_size", s.batch_size, 1, kMaxCount);
  v.integer("grad_accum", s.grad_accum, 1, kMaxCount);
  v.integer("samples_per_pass", s.samples_per_pass, 1, kMaxCount);
  v.real("lr", s.lr, in_range(0, true, kInf, true));
  v.integer("epochs", s.epochs, 1, kMaxCount);
  v.integer("updates", s.updates, 0, kMaxInt);
  v.integer("max_seq_len", s.max_seq_len, 2, int64_t{1} << 24);
  v.str("source", s.source, one_of({"rejection", "ground_truth"}));
}

template <class V>
void visit_pretrain(PretrainConfig& p, V& v) {
  v.integer("task_seed", p.task_seed, 0, kMaxInt);
  v.integer("init_seed", p.init_seed, 0, kMaxInt);
  v.integer("vocab", p.vocab, 259, 4096);
  v.integer("heads", p.heads, 1, 1024);
  v.integer("kv_heads", p.kv_heads, 1, 1024);
  v.integer("expert_layers", p.expert_layers, 1, 256);
  v.integer("expert_hidden", p.expert_hidden, 2, int64_t{1} << 16);
  v.integer("amateur_layers", p.amateur_layers, 1, 256);
  v.integer("amateur_hidden", p.amateur_hidden, 2, int64_t{1} << 16);
  v.integer("general_steps", p.general_steps, 1, kMaxInt);
  v.integer("chain_steps", p.chain_steps, 0, kMaxInt);
  v.real("chain_fraction", p.chain_fraction, in_range(0, false, 1, false));
  v.integer("batch_size", p.batch_size, 1, kMaxCount);
  v.integer("seq_len", p.seq_len, 8, int64_t{1} << 16);
  v.real("lr", p.lr, in_range(0, true, kInf, true));
  v.integer("warmup_steps", p.warmup_steps, 0, kMaxInt);
  v.integer("checkpoint_every", p.checkpoint_every, 0, kMaxInt);
}

// Every section in file order.
template <class V>
void visit_config(ExperimentConfig& c, V& v) {
  v.section("run", [&] { visit_run(c.run, v); });
  v.section("models", [&] { visit_models(c.models, v); });
  visit_data_and_prompt(c, v);
  v.section("sample", [&] { visit_sample(c.sample, v); });
  v.section("lora", [&] { visit_lora(c.lora, v); });
  v.section("train", [&] { visit_train(c.train, v); });
  v.section("eval", [&] { visit_eval(c.eval, v); });
  v.section("sft", [&] { visit_sft(c.sft, v); });
  v.section("pretrain", [&] { visit_pretrain(c.pretrain, v); });
  v.section("diagnostics", [&] {
    v.boolean("enabled", c.diagnostics.enabled);
    v.integer("problems", c.diagnostics.problems, 0, kMaxInt);
  });
  v.section("sweep", [&] {
    v.int_list("seeds", c.sweep.seeds, 0, kMaxInt);
    v.str_list("variants", c.sweep.variants, true);
  });
  v.section("report", [&] { v.boolean("plots", c.report.plots); });
}

}  // namespace lr::driver::config_internal
