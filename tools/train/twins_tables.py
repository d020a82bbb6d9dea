#!/usr/bin/python3
"""The twins' evidence tables (resources/models/README.md) as Markdown, from the JSON
files tools/train/evaluate_twins.sh writes: mean NLL by position bucket at L, 4L and
16L, and mean attention distance per ALiBi head at 4L.

usage: python3 tools/train/twins_tables.py [OUT_DIR of evaluate_twins.sh]
"""
import json, os, sys

L = 256


def sweep_table(out, arch, title):
    cols = [(L, 0), (4 * L, 0), (4 * L, 1), (16 * L, 0), (16 * L, 1), (16 * L, 2)]
    runs = {n: json.load(open(os.path.join(out, f"{arch}_{n}.json"))) for n in (L, 4 * L, 16 * L) if
            os.path.exists(os.path.join(out, f"{arch}_{n}.json"))}
    if not runs:
        return ""
    names = {0: "[0,L)", 1: "[L,4L)", 2: "[4L,16L)"}
    rows = [f"| {title} | " + " | ".join(f"{n // L if n > L else ''}L: {names[b]}" for n, b in cols) + " |",
            "|---|" + "---|" * len(cols)]
    for i, r in enumerate(runs[L]["results"]):
        cells = []
        for n, b in cols:
            v = runs[n]["results"][i]["bucket_nll"][b] if n in runs else None
            cells.append("—" if v is None else f"{v:.3f}")
        rows.append(f"| {r['method']} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def distance_table(out):
    rows = ["| layer | alibi | ntk-alibi a=4 |", "|---|---|---|"]
    for layer in range(4):
        cells = []
        for m in ("alibi", "ntk-alibi"):
            p = os.path.join(out, f"attn_{m}_{layer}.json")
            if not os.path.exists(p):
                return ""
            cells.append(", ".join(f"{h['mean_distance']:.1f}" for h in json.load(open(p))["heads"]))
        rows.append(f"| {layer} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/twins_eval"
    parts = [sweep_table(out, "rope", "RoPE twin"), sweep_table(out, "alibi", "ALiBi twin"), distance_table(out)]
    print("\n\n".join(p for p in parts if p))


if __name__ == "__main__":
    main()
