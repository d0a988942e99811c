// Writes the reference ids of the JS implementation, one JSON object
// {"source", "text", "ids"} per line, for the C++ parity test.
//
//   node encode_reference.mjs TOKENIZER_DIR OUT.jsonl INPUT.jsonl...
//
// TOKENIZER_DIR is what tests/driver/fetch_qwen_tokenizer.sh made.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadReference, readTexts } from "./load_reference.mjs";

const [dir, out, ...inputs] = process.argv.slice(2);
if (!dir || !out || inputs.length === 0) {
  console.error("usage: node encode_reference.mjs TOKENIZER_DIR OUT.jsonl INPUT.jsonl...");
  process.exit(2);
}
if (!existsSync(join(dir, "js", "node_modules")) || !existsSync(join(dir, "tokenizer.json"))) {
  console.error(`encode_reference.mjs: ${dir} has no tokenizer files (fetch_qwen_tokenizer.sh skipped?); skipping`);
  process.exit(77);
}
const { encode } = await loadReference(dir);
const texts = readTexts(inputs);
const lines = texts.map(({ source, text }) => JSON.stringify({ source, text, ids: encode(text) }));
writeFileSync(out, lines.join("\n") + "\n");
console.log(`encode_reference.mjs: ${texts.length} texts -> ${out}`);
