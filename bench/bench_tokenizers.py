#!/usr/bin/env python3
"""Tokenizer speed against the reference implementations, side by side.

For each real tokenizer (tools/tokenizers: `npm ci` there first), 1 MB of text is
encoded by LongScope (bench_tokenize), Hugging Face tokenizers (the Rust library
through its Node binding), its JavaScript port (@huggingface/tokenizers), tiktoken
(o200k tokenizers) and the sentencepiece library (SentencePiece models, in-process
in bench_tokenize). Rounds are interleaved (each implementation once per round, in
a new process, the encode timed inside it after one warm-up encode); the table
gives medians over the rounds, LongScope's speed as a ratio against each reference
(> 1: LongScope faster), and whether every implementation gave the same ids.

  python3 bench/bench_tokenizers.py [--build build] [--rounds 5] [--bytes 1000000] [--json OUT]

With --hostile it times LongScope alone on the hostile tokenizer files of
tests/tokenizer/hostile_tokenizers.h (65,280 special tokens, a 510-rank merge chain,
a backtracking regex), each on 1 MB of the text that makes it work hardest: the
target is at most 1 s per MB, or a clear error in that time. No npm packages needed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LENML = os.path.join(ROOT, "tools/tokenizers/node_modules/@lenml")

# name, npm package folder, tiktoken encoding (or None), SentencePiece .model to build (bool)
TOKENIZERS = [
    ("Llama 3.2", "tokenizer-llama3_2", None, False),
    ("Qwen3", "tokenizer-qwen3", None, False),
    ("gpt-oss", "tokenizer-gptoss", "o200k_base", False),
    ("Mistral NeMo", "tokenizer-mistral_nemo", None, False),
    ("Gemma 3", "tokenizer-gemma3", None, True),
    ("Llama 2", "tokenizer-llama2", None, True),
]


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return lines[-1]  # after the warm-up encode


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bytes", type=int, default=1000000)
    ap.add_argument("--text", help="text file (default: resources/documents/heldout_books.txt + tinystories_val_paragraphs.txt)")
    ap.add_argument("--only", help="comma-separated tokenizer names")
    ap.add_argument("--json", help="write the measurements here")
    ap.add_argument("--hostile", action="store_true", help="the hostile tokenizer files instead")
    a = ap.parse_args()
    if a.hostile:
        return hostile(a)
    if not os.path.isdir(LENML):
        sys.exit("no reference tokenizers: run `npm ci` in tools/tokenizers first")
    bench = os.path.join(a.build, "bench/bench_tokenize")
    ref = os.path.join(ROOT, "bench/tokenizers/ref_encode.js")
    tmp = tempfile.mkdtemp(prefix="ls_tok_bench_")
    text = a.text
    if not text:
        text = os.path.join(tmp, "text.txt")
        with open(text, "wb") as f:
            for p in ("heldout_books.txt", "tinystories_val_paragraphs.txt"):
                f.write(open(os.path.join(ROOT, "resources/documents", p), "rb").read())
    results = []
    for name, pkg, tik, spm in TOKENIZERS:
        if a.only and name not in a.only.split(","):
            continue
        d = os.path.join(LENML, pkg, "models")
        impls = {
            "LongScope": [bench, "--tokenizer", os.path.join(d, "tokenizer.json"), "--text", text, "--bytes", str(a.bytes), "--reps", "2"],
            "HF tokenizers (Rust)": ["node", ref, "hf-rust", d, text, str(a.bytes), "2"],
            "HF tokenizers.js": ["node", ref, "hf-js", d, text, str(a.bytes), "2"],
        }
        if tik:
            impls["tiktoken"] = ["node", ref, "tiktoken", tik, text, str(a.bytes), "2"]
        if spm:
            model = os.path.join(tmp, pkg + ".model")
            subprocess.run([bench, "--write-spm-model", model, "--from", d], check=True)
            impls["LongScope (.model)"] = [bench, "--tokenizer", model, "--text", text, "--bytes", str(a.bytes), "--reps", "2"]
            impls["sentencepiece library"] = [bench, "--spm-library", model, "--text", text, "--bytes", str(a.bytes), "--reps", "2"]
        times = {k: [] for k in impls}
        hashes = {}
        for r in range(a.rounds):
            for k, cmd in impls.items():
                m = run(cmd)
                times[k].append(m["seconds"])
                hashes[k] = (m["ids"], m["fnv1a64"])
        med = {k: statistics.median(v) for k, v in times.items()}
        same = len(set(hashes.values())) == 1
        results.append({"tokenizer": name, "median_seconds": med, "same_ids": same, "ids": hashes})
        print(f"\n{name}: {a.bytes / 1e6:.1f} MB, {a.rounds} rounds, ids identical across implementations: {same}")
        ours = med["LongScope"]
        for k, s in med.items():
            base = med["LongScope (.model)"] if k == "sentencepiece library" else ours
            ratio = "" if k.startswith("LongScope") else f"  LongScope {s / base:6.1f}x faster"
            print(f"  {k:24s} {s:8.3f} s/MB{ratio}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


def hostile(a):
    bench = os.path.join(a.build, "bench/bench_tokenize")
    tmp = tempfile.mkdtemp(prefix="ls_tok_hostile_")
    subprocess.run([bench, "--write-hostile", tmp, "--bytes", str(a.bytes)], check=True)
    results = []
    print(f"LongScope on hostile tokenizer files, {a.bytes / 1e6:.1f} MB each, {a.rounds} rounds (target: <= 1 s/MB)")
    for name in ("specials", "chain", "backtracking"):
        times, loads, error = [], [], None
        for _ in range(a.rounds):
            p = subprocess.run([bench, "--tokenizer", os.path.join(tmp, name + ".json"), "--text",
                                os.path.join(tmp, name + ".txt"), "--bytes", str(a.bytes), "--reps", "2"],
                               capture_output=True, text=True)
            lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
            loads.append(lines[0]["load_seconds"])
            times.append(lines[-1]["seconds"])
            error = lines[-1].get("error")
        med, load = statistics.median(times), statistics.median(loads)
        results.append({"file": name, "median_seconds": med, "load_seconds": load, "error": error})
        what = f"ends in an error: {error}" if error else "encoded"
        print(f"  {name:14s} load {load:6.3f} s   {med:7.3f} s/MB   {what}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
