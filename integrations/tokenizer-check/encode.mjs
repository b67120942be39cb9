// Encodes texts with @huggingface/tokenizers (pure JavaScript), an
// implementation independent of trove's Go tokenizer, and prints the token
// ids as JSON: {"<tokenizer file name>": [[id, ...] per text], ...}.
// Special tokens are not added, as model2vec encodes.
//
//   node encode.mjs TEXTS.json TOKENIZER.json [TOKENIZER.json ...]
//
// TEXTS.json is a JSON array of strings. trove's Go tests run this script
// (internal/embedding/static) and keep its output as a golden file; to
// regenerate that file after changing the test tokenizers or texts:
//
//   npm ci --prefix integrations/tokenizer-check
//   go test ./internal/embedding/static -run TestTokenizerGolden -update
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

const [textsPath, ...tokenizerPaths] = process.argv.slice(2);
if (!textsPath || tokenizerPaths.length === 0) {
  console.error("usage: node encode.mjs TEXTS.json TOKENIZER.json [TOKENIZER.json ...]");
  process.exit(2);
}
const texts = JSON.parse(readFileSync(textsPath, "utf8"));
const out = {};
for (const path of tokenizerPaths) {
  const tokenizer = new Tokenizer(JSON.parse(readFileSync(path, "utf8")), {});
  out[basename(path)] = texts.map((text) =>
    Array.from(tokenizer.encode(text, { add_special_tokens: false }).ids, Number),
  );
}
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
