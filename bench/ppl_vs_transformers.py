#!/usr/bin/env python3
"""End-to-end per-token NLL: `longscope-cli ppl --backend cuda` against Hugging Face
transformers (bf16, attn_implementation="sdpa") on the same model folder and tokens.

For each window length it runs, side by side and `--reps` times each, one window of
LongScope (its own tokens/s, measured inside the CLI, load excluded) and one forward
of transformers with labels (NLL over the window), and prints tokens/s of both, the
ratio LongScope / transformers, seconds per window (issue #11's target: Llama-2-7B,
32K tokens, <= 5 s in 80 GB) and both mean NLLs, which must agree (same weights).

usage: python3 bench/ppl_vs_transformers.py --cli build/cli/longscope-cli --model DIR
           [--lengths 4096,8192,16384,32768] [--reps 3]
DIR is a Hugging Face folder (config.json + safetensors); when it does not exist it
is written first with `longscope-cli make-random --shape llama2-7b --out DIR`
(13.5 GB of bf16 random weights; writing them takes many minutes).
Needs a CUDA device, PyTorch and transformers.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def ours(cli, model, tokens_file, n):
    run = subprocess.run([cli, "ppl", "--model", model, "--tokens", tokens_file, "--ctx", str(n), "--windows", "1",
                          "--backend", "cuda", "--json"], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"ppl_vs_transformers: longscope-cli ppl failed ({run.returncode}): {run.stderr.strip()}")
    out = json.loads(run.stdout)
    return out["tokens_per_second"], out["mean_nll"]


def theirs(torch, model, ids):
    x = torch.tensor([ids], device="cuda")
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.no_grad():
        loss = model(input_ids=x, labels=x).loss
    torch.cuda.synchronize()
    return (len(ids) - 1) / (time.perf_counter() - t0), float(loss)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--lengths", default="4096,8192,16384,32768")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    try:
        import torch
        from transformers import AutoModelForCausalLM
    except ImportError as e:
        sys.exit(f"ppl_vs_transformers: {e}")
    if not torch.cuda.is_available():
        sys.exit("ppl_vs_transformers: no CUDA device is present")
    if not os.path.isdir(a.model):
        subprocess.run([a.cli, "make-random", "--shape", "llama2-7b", "--out", a.model], check=True)
    hf = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.bfloat16, attn_implementation="sdpa").cuda()
    hf.eval()
    vocab = hf.config.vocab_size
    print(f"{'n':>6} {'longscope tok/s':>16} {'hf tok/s':>10} {'ratio':>7} {'longscope s':>12} "
          f"{'longscope nll':>14} {'hf nll':>8}")
    for n in [int(x) for x in a.lengths.split(",")]:
        ids = [1 + (i * 37 + 11) % (vocab - 1) for i in range(n + 1)]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write(" ".join(map(str, ids)))
            path = f.name
        ls, tr = [], []
        nll_ls = nll_hf = None
        for _ in range(a.reps):  # interleaved: the machine's drift hits both
            tps, nll_ls = ours(a.cli, a.model, path, n)
            ls.append(tps)
            tps, nll_hf = theirs(torch, hf, ids[:n + 1])
            tr.append(tps)
        os.unlink(path)
        m_ls, m_tr = statistics.median(ls), statistics.median(tr)
        print(f"{n:>6} {m_ls:>16.0f} {m_tr:>10.0f} {m_ls / m_tr:>6.2f}x {n / m_ls:>12.2f} {nll_ls:>14.4f} {nll_hf:>8.4f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
