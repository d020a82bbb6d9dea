#!/usr/bin/env python3
"""Prompt throughput and peak memory of LongScope against llama.cpp on quantised GGUFs.

For each file: llama-perplexity and `longscope-cli ppl` on the same text, window
length and thread count, runs interleaved (llama.cpp, LongScope, llama.cpp, …);
tokens/s as each program reports it (prompt evaluation, logits included, load
excluded) and the peak RSS of each process (wait4's ru_maxrss); medians and ratios.

    bench/llamacpp/quant_speed.py LLAMA_BIN_DIR build/cli/longscope-cli tl-Q8_0.gguf tl-Q4_K_M.gguf \\
        --ctx 512 --windows 2 --reps 3 --threads 2
"""
import argparse
import json
import os
import re
import statistics
import subprocess


def run(cmd):
    """Returns (stdout + stderr, peak RSS in MiB) of one process."""
    pid = os.fork()
    if pid == 0:
        import sys
        fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(fd, 0)
        out = os.open(run.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        try:
            os.execv(cmd[0], cmd)
        finally:
            sys.exit(127)
    _, status, usage = os.wait4(pid, 0)
    with open(run.log) as f:
        text = f.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{text[-2000:]}")
    return text, usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("llama_bin_dir")
    ap.add_argument("longscope_cli")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--text", default=os.path.join(os.path.dirname(__file__), "../../resources/documents/tinystories_3.txt"))
    a = ap.parse_args()
    run.log = f"/tmp/longscope-quant-speed-{os.getpid()}.log"
    print(f"ctx {a.ctx}, {a.windows} windows per run, {a.threads} threads, medians of {a.reps} interleaved runs; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"{'file':24} {'llama tok/s':>11} {'LS tok/s':>9} {'LS/llama':>8} {'llama MiB':>9} {'LS MiB':>7} {'RSS ratio':>9}")
    for model in a.models:
        lt, ls, lm, sm = [], [], [], []
        for _ in range(a.reps):
            text, rss = run([f"{a.llama_bin_dir}/llama-perplexity", "-m", model, "-f", a.text, "-c", str(a.ctx),
                             "-b", str(a.ctx), "--chunks", str(a.windows), "-t", str(a.threads)])
            m = re.search(r"prompt eval time.*?([0-9.]+) tokens per second", text)
            if not m:
                raise SystemExit("no prompt eval time in llama-perplexity's output:\n" + text[-2000:])
            lt.append(float(m.group(1)))
            lm.append(rss)
            text, rss = run([a.longscope_cli, "ppl", "--model", model, "--text", a.text, "--ctx", str(a.ctx),
                             "--windows", str(a.windows), "--threads", str(a.threads), "--json"])
            ls.append(json.JSONDecoder().raw_decode(text[text.index("{"):])[0]["tokens_per_second"])
            sm.append(rss)
        l, s = statistics.median(lt), statistics.median(ls)
        lr, sr = statistics.median(lm), statistics.median(sm)
        print(f"{os.path.basename(model):24} {l:11.1f} {s:9.1f} {s / l:7.2f}x {lr:9.0f} {sr:7.0f} {sr / lr:8.2f}x",
              flush=True)
    os.unlink(run.log)


if __name__ == "__main__":
    main()
