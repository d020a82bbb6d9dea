#!/usr/bin/env python3
"""LongScope's flash kernel against PyTorch's scaled_dot_product_attention, side by side.

Runs `bench_gpu --attention-only 1 --json 1` (the flash kernel per method, causal
bf16, B = 1) and, on the same shapes in the same session, torch SDPA with each of
its backends forced one at a time (flash, efficient, cuDNN). Prints TFLOP/s and the
ratio LongScope / SDPA-flash (issue #11's target: >= 1.0x at 4K-16K). Only plain
causal attention exists in SDPA, so the remapping methods are compared with its
RoPE-equivalent call: their cost relative to RoPE is bench_gpu's own column.

usage: python3 bench/attention_vs_sdpa.py --bench build/bench/bench_gpu
           [--lengths 4096,8192,16384,32768] [--reps 5] [--json out.json]
Needs a CUDA device and PyTorch >= 2.3 (torch.nn.attention.sdpa_kernel).
"""
import argparse
import json
import statistics
import subprocess
import sys


def sdpa_ms(torch, backend, heads, kv_heads, head_dim, n, reps):
    """Median ms of causal SDPA with one backend forced, or None when it cannot run."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.functional import scaled_dot_product_attention as sdpa

    kind = {"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
            "cudnn": SDPBackend.CUDNN_ATTENTION}[backend]
    gen = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(1, heads, n, head_dim, device="cuda", dtype=torch.bfloat16, generator=gen)
    k = torch.randn(1, kv_heads, n, head_dim, device="cuda", dtype=torch.bfloat16, generator=gen)
    v = torch.randn(1, kv_heads, n, head_dim, device="cuda", dtype=torch.bfloat16, generator=gen)
    if kv_heads != heads:  # GQA: SDPA's enable_gqa where it exists, else repeated heads (as HF does)
        try:
            with sdpa_kernel(kind):
                sdpa(q, k, v, is_causal=True, enable_gqa=True)
            extra = {"enable_gqa": True}
        except (TypeError, RuntimeError):
            k = k.repeat_interleave(heads // kv_heads, dim=1)
            v = v.repeat_interleave(heads // kv_heads, dim=1)
            extra = {}
    else:
        extra = {}
    times = []
    try:
        with sdpa_kernel(kind):
            sdpa(q, k, v, is_causal=True, **extra)  # warm-up
            torch.cuda.synchronize()
            for _ in range(reps):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                sdpa(q, k, v, is_causal=True, **extra)
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
    except RuntimeError as e:  # this backend does not take this shape here
        print(f"# sdpa {backend} h={heads} kv={kv_heads} d={head_dim} n={n}: {str(e).splitlines()[0]}", file=sys.stderr)
        return None
    finally:
        del q, k, v
        torch.cuda.empty_cache()
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="path of the bench_gpu executable")
    ap.add_argument("--lengths", default="4096,8192,16384,32768")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", help="also write every row here")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("attention_vs_sdpa: PyTorch is not installed")
    if not torch.cuda.is_available():
        sys.exit("attention_vs_sdpa: no CUDA device is present")

    run = subprocess.run([a.bench, "--attention-only", "1", "--json", "1", "--attn-lengths", a.lengths,
                          "--reps", str(a.reps)], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"attention_vs_sdpa: bench_gpu failed ({run.returncode}): {run.stderr.strip()}")
    ours = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]

    rows = []
    shapes = sorted({(r["heads"], r["kv_heads"], r["head_dim"], r["n"]) for r in ours})
    print(f"{'H':>4} {'KV':>4} {'d':>4} {'n':>6} {'kernel':>34} {'ms':>9} {'TFLOP/s':>8} {'vs sdpa-flash':>14}")
    for heads, kv_heads, head_dim, n in shapes:
        flops = 4.0 * n * n * head_dim * heads / 2.0  # causal, the FlashAttention papers' convention
        ref = {}
        for backend in ("flash", "efficient", "cudnn"):
            ms = sdpa_ms(torch, backend, heads, kv_heads, head_dim, n, a.reps)
            ref[backend] = ms
            rows.append({"kernel": f"sdpa-{backend}", "heads": heads, "kv_heads": kv_heads, "head_dim": head_dim,
                         "n": n, "ms": ms, "tflops": flops / (ms * 1e-3) / 1e12 if ms else None})
        for r in [r for r in ours if (r["heads"], r["kv_heads"], r["head_dim"], r["n"]) == (heads, kv_heads, head_dim, n)]:
            r["vs_sdpa_flash"] = ref["flash"] / r["ms"] if ref["flash"] else None
            rows.append(r)
        for r in rows[-(3 + len(methods_of(ours))):]:
            label = r["kernel"] + (f" {r['method']}" if "method" in r else "")
            ratio = f"{r['vs_sdpa_flash']:.2f}x" if r.get("vs_sdpa_flash") else ""
            ms = f"{r['ms']:.3f}" if r["ms"] else "n/a"
            tf = f"{r['tflops']:.1f}" if r["tflops"] else "n/a"
            print(f"{heads:>4} {kv_heads:>4} {head_dim:>4} {n:>6} {label:>34} {ms:>9} {tf:>8} {ratio:>14}")
        sys.stdout.flush()
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "device": torch.cuda.get_device_name(), "rows": rows}, f, indent=1)


def methods_of(ours):
    return sorted({r["method"] for r in ours})


if __name__ == "__main__":
    main()
