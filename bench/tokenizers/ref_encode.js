#!/usr/bin/env node
// The reference tokenizers on a text, seconds per encode (the tokenizer loaded once,
// outside the timing), for bench/bench_tokenizers.py. Modules from tools/tokenizers
// (npm ci there).
//
//   node ref_encode.js hf-rust|hf-js TOKENIZER_DIR TEXT BYTES REPS
//   node ref_encode.js tiktoken ENCODING TEXT BYTES REPS        (e.g. o200k_base)
//
// Prints one JSON line per repetition, as bench_tokenize does.
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");
const req = createRequire(path.resolve(__dirname, "../../tools/tokenizers/package.json"));

function fnv1a64(ids) {
  let h = 0xcbf29ce484222325n;
  for (const id of ids)
    for (let k = 0; k < 4; ++k) {
      h ^= BigInt((id >>> (8 * k)) & 0xff);
      h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
    }
  return h.toString(16).padStart(16, "0");
}

function text(file, bytes) {
  let b = fs.readFileSync(file).subarray(0, bytes);
  while (b.length && (b[b.length - 1] & 0xc0) === 0x80) b = b.subarray(0, b.length - 1);  // whole characters
  if (b.length && (b[b.length - 1] & 0xc0) === 0xc0) b = b.subarray(0, b.length - 1);
  return [b.toString("utf8"), b.length];
}

(async () => {
  const [impl, what, file, bytesArg, repsArg] = process.argv.slice(2);
  const [t, nbytes] = text(file, Number(bytesArg));
  let encode;
  if (impl === "hf-rust") {
    const { Tokenizer } = req("tokenizers");
    const tok = Tokenizer.fromFile(path.join(what, "tokenizer.json"));
    encode = async (s) => (await tok.encode(s, null, { addSpecialTokens: false })).getIds();
  } else if (impl === "hf-js") {
    const m = await import(req.resolve("@huggingface/tokenizers"));
    const Tokenizer = m.Tokenizer || m.default.Tokenizer;
    const json = JSON.parse(fs.readFileSync(path.join(what, "tokenizer.json"), "utf8"));
    const cfgPath = path.join(what, "tokenizer_config.json");
    const cfg = fs.existsSync(cfgPath) ? JSON.parse(fs.readFileSync(cfgPath, "utf8")) : {};
    const tok = new Tokenizer(json, cfg);
    encode = async (s) => tok.encode(s, { add_special_tokens: false }).ids;
  } else if (impl === "tiktoken") {
    const { get_encoding } = req("tiktoken");
    const enc = get_encoding(what);
    encode = async (s) => Array.from(enc.encode(s, "all"));  // special tokens in the text as tokens
  } else {
    throw new Error("impl: hf-rust, hf-js or tiktoken");
  }
  for (let r = 0; r < Number(repsArg); ++r) {
    const t0 = process.hrtime.bigint();
    const ids = await encode(t);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(JSON.stringify({ seconds: s, ids: ids.length, fnv1a64: fnv1a64(ids), bytes: nbytes }));
  }
})().catch((e) => { console.error(e.message); process.exit(1); });
