#!/usr/bin/env python3
"""LongScope's perplexity against llama.cpp's on GGUF files of each quantisation type.

Each type is made from one F16 file with llama.cpp's own llama-quantize; then the same
chunks are scored by llama-perplexity and by `longscope-cli ppl`, and the per-chunk
mean NLL of both is printed with their relative difference. Nothing is downloaded:
give it a llama.cpp build (bench/llamacpp/build.sh builds llama-perplexity; build
llama-quantize and llama-tokenize the same way) and an F16 GGUF, e.g.

    longscope-cli make-random --shape tinyllama-1.1b --bundled-vocab --format gguf --dtype F16 --out tl-f16.gguf
    bench/llamacpp/quant_ppl.py LLAMA_BIN_DIR build/cli/longscope-cli tl-f16.gguf \\
        --types Q8_0,Q4_0,Q4_K_M,Q6_K --ctx 512 --chunks 2 --threads 2

The chunks are llama-perplexity's: the text tokenised once (llama-tokenize, BOS
first), cut into chunks of CTX tokens, each chunk's first token replaced by BOS, the
second half of each chunk scored (positions CTX/2 … CTX-2 predicting the next token).
llama-perplexity prints the running perplexity after each chunk; the per-chunk mean
NLL is recovered from it (k·ln p_k − (k−1)·ln p_{k−1}, equal token counts per chunk).
LongScope scores the same chunk as one window given as token ids (`ppl --tokens`).
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


def llama_chunk_nll(bins, model, text, ctx, chunks, threads):
    out = run([f"{bins}/llama-perplexity", "-m", model, "-f", text, "-c", str(ctx), "-b", str(ctx),
               "--chunks", str(chunks), "-t", str(threads)])
    running = [float(v) for v in re.findall(r"\[\d+\](\d+\.\d+)", out.stdout + out.stderr)]
    if len(running) != chunks:
        sys.exit(f"llama-perplexity printed {len(running)} chunk values, expected {chunks}:\n{out.stderr[-2000:]}")
    nll, prev = [], 0.0
    for k, p in enumerate(running, start=1):
        total = k * math.log(p)
        nll.append(total - prev)
        prev = total
    return nll


def tokens(bins, model, text):
    out = run([f"{bins}/llama-tokenize", "-m", model, "-f", text, "--ids", "--log-disable"])
    return json.loads(out.stdout.strip().splitlines()[-1])


def longscope_chunk_nll(cli, model, ids, ctx, chunks, threads, bos):
    nll = []
    with tempfile.TemporaryDirectory() as tmp:
        for c in range(chunks):
            chunk = ids[c * ctx:(c + 1) * ctx]
            chunk[0] = bos
            path = os.path.join(tmp, f"chunk{c}.json")
            with open(path, "w") as f:
                json.dump(chunk, f)
            out = run([cli, "ppl", "--model", model, "--tokens", path, "--ctx", str(ctx - 1), "--windows", "1",
                       "--threads", str(threads), "--json"])
            per_token = json.loads(out.stdout)["nll"]  # entry j scores chunk[j + 1]
            scored = per_token[ctx // 2:ctx - 1]
            nll.append(sum(scored) / len(scored))
    return nll


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("llama_bin_dir")
    ap.add_argument("longscope_cli")
    ap.add_argument("model_f16")
    ap.add_argument("--types", default="F16,Q8_0,Q4_0,Q4_K_M,Q6_K")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--text", default=os.path.join(os.path.dirname(__file__), "../../resources/documents/tinystories_3.txt"))
    ap.add_argument("--bos", type=int, default=1, help="the vocabulary's BOS id (1 for the bundled SentencePiece one)")
    a = ap.parse_args()
    ids = tokens(a.llama_bin_dir, a.model_f16, a.text)
    if len(ids) < a.chunks * a.ctx:
        sys.exit(f"the text holds {len(ids)} tokens; {a.chunks} chunks of {a.ctx} need more")
    print(f"{os.path.basename(a.model_f16)}: {a.chunks} chunks of {a.ctx}, second halves scored, {a.threads} threads")
    print(f"{'type':8} {'chunk':>5} {'llama.cpp NLL':>14} {'LongScope NLL':>14} {'rel. diff':>10}")
    for t in a.types.split(","):
        model = a.model_f16 if t == "F16" else a.model_f16.replace(".gguf", "") + f"-{t}.gguf"
        if t != "F16" and not os.path.exists(model):
            run([f"{a.llama_bin_dir}/llama-quantize", a.model_f16, model, t, str(a.threads)])
        ref = llama_chunk_nll(a.llama_bin_dir, model, a.text, a.ctx, a.chunks, a.threads)
        got = longscope_chunk_nll(a.longscope_cli, model, ids, a.ctx, a.chunks, a.threads, a.bos)
        for c, (r, g) in enumerate(zip(ref, got)):
            print(f"{t:8} {c + 1:5} {r:14.6f} {g:14.6f} {abs(g - r) / abs(r):10.2e}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
