// Tokenizer throughput of the reference JS implementation (@lenml/tokenizers,
// a transformers.js fork) on one thread, measured as bench/tokenizer_bench.cpp
// measures ours: every question and answer of a GSM8K JSONL file, one text at
// a time; a first pass (cold caches, JIT warming up), then PASSES passes.
//
//   node bench/tokenizer_bench.mjs TOKENIZER_DIR GSM8K.jsonl [PASSES=5]
//
// TOKENIZER_DIR is what tests/driver/fetch_qwen_tokenizer.sh made.
import { performance } from "node:perf_hooks";
import { loadReference, readTexts } from "../tests/driver/tokenizer/js/load_reference.mjs";

const [dir, data, passesArg] = process.argv.slice(2);
if (!dir || !data) {
  console.error("usage: node bench/tokenizer_bench.mjs TOKENIZER_DIR GSM8K.jsonl [PASSES=5]");
  process.exit(2);
}
const passes = Math.max(1, parseInt(passesArg ?? "5", 10) || 5);
const texts = readTexts([data]).map((t) => t.text);

let t0 = performance.now();
const { encode } = await loadReference(dir);
const loadS = (performance.now() - t0) / 1e3;

// FNV-1a over the ids as 32-bit words, as in tokenizer_bench.cpp.
let sum = 2166136261 >>> 0;
let tokens = 0;
t0 = performance.now();
for (const t of texts) {
  const ids = encode(t);
  tokens += ids.length;
  for (const id of ids) sum = Math.imul((sum ^ id) >>> 0, 16777619) >>> 0;
}
const firstS = (performance.now() - t0) / 1e3;

const times = [];
let sink = 0;
for (let p = 0; p < passes; ++p) {
  t0 = performance.now();
  for (const t of texts) sink += encode(t).length;
  times.push((performance.now() - t0) / 1e3);
}
if (sink !== tokens * passes) throw new Error("token count changed between passes");
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(
  `impl=js texts=${texts.length} tokens=${tokens} checksum=${sum.toString(16).padStart(8, "0")} ` +
    `load_s=${loadS.toFixed(3)} first_pass_s=${firstS.toFixed(4)} median_s=${median.toFixed(4)} ` +
    `best_s=${times[0].toFixed(4)} passes=${passes} tokens_per_s=${Math.round(tokens / median)}`,
);
