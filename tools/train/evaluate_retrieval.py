#!/usr/bin/python3
"""Retrieval evidence for the twins (resources/models/README.md): passkey accuracy per
method × length (all depths together), LongEval lines in the twins' format, and held-out
book NLL by position bucket, as Markdown tables. Runs longscope-cli; nothing is trained.

usage: python3 tools/train/evaluate_retrieval.py [--cli build/cli/longscope-cli] [--out DIR]
       [--rope resources/models/twins/rope_twin.gguf] [--alibi resources/models/twins/alibi_twin]
"""
import argparse, json, os, subprocess

L = 256
LENGTHS = [L, 2 * L, 4 * L, 8 * L]
LINES_LENGTHS = [L // 2] + LENGTHS  # a register half as long too: fewer lines to tell apart
ROPE = "rope;ntk:alpha=8;yarn:factor=8;dynamic-ntk:alpha=1;rerope:window=128,logn=1;leaky-rerope:window=128,k=16;self-extend:window=64,group=8"
ALIBI = "alibi;alibi-linear:a=8;ntk-alibi:a=8;dynamic-ntk-alibi:a0=1"
DOC = "resources/documents/heldout_books.txt"


def cli(a, args):
    r = subprocess.run([a.cli] + args + ["--json"], check=True, capture_output=True, text=True)
    return json.loads(r.stdout)


def by_length(grid):
    """accuracy per (method, length) over every depth and trial."""
    out = {}
    for c in grid["cells"]:
        f, t = out.get((c["method"], c["length"]), (0, 0))
        out[(c["method"], c["length"])] = (f + c["found"], t + c["trials"])
    return out


def table(title, methods, lengths, acc):
    rows = [f"| {title} | " + " | ".join(f"{n} ({n / L:g}L)" for n in lengths) + " |",
            "|---|" + "---|" * len(lengths)]
    for m in methods:
        cells = []
        for n in lengths:
            f, t = acc[(m, n)]
            cells.append(f"{100 * f / t:.0f}% ({f}/{t})")
        rows.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default="build/cli/longscope-cli")
    ap.add_argument("--out", default="/tmp/twins_retrieval")
    ap.add_argument("--rope", default="resources/models/twins/rope_twin.gguf")
    ap.add_argument("--alibi", default="resources/models/twins/alibi_twin")
    ap.add_argument("--trials", default="4")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    lens = ",".join(map(str, LENGTHS))
    md = []
    for name, model, methods in (("RoPE twin", a.rope, ROPE), ("ALiBi twin", a.alibi, ALIBI)):
        if not os.path.exists(model):
            continue
        ms = methods.split(";")
        pk = cli(a, ["passkey", "--model", model, "--methods", methods, "--lengths", lens,
                     "--depths", "0,0.25,0.5,0.75,1", "--trials", a.trials])
        json.dump(pk, open(os.path.join(a.out, f"{name.split()[0].lower()}_passkey.json"), "w"))
        md.append(f"#### {name}: passkey accuracy (5 depths × {a.trials} keys per cell)\n\n" +
                  table("method", pk["methods"], LENGTHS, by_length(pk)))
        le = cli(a, ["longeval", "--task", "lines", "--model", model, "--methods", methods,
                     "--lengths", ",".join(map(str, LINES_LENGTHS)), "--trials", "20"])
        json.dump(le, open(os.path.join(a.out, f"{name.split()[0].lower()}_lines.json"), "w"))
        md.append(f"#### {name}: LongEval lines in the twin's format (20 LongChat cases per cell)\n\n" +
                  table("method", le["methods"], LINES_LENGTHS, by_length(le)))
        sw = cli(a, ["sweep", "--model", model, "--text", DOC, "--methods", methods, "--lengths", str(4 * L),
                     "--buckets", f"0,{L},{2 * L},{4 * L}", "--windows", "16"])
        rows = [f"| {name}: book NLL at 4L (nats) | [0, L) | [L, 2L) | [2L, 4L) |", "|---|---|---|---|"]
        for c in sw["results"]:
            rows.append(f"| {c['method']} | " + " | ".join(f"{x:.3f}" for x in c["bucket_nll"]) + " |")
        md.append("\n".join(rows))
    text = "\n\n".join(md) + "\n"
    open(os.path.join(a.out, "tables.md"), "w").write(text)
    print(text)


if __name__ == "__main__":
    main()
