#!/usr/bin/env python3
"""Builds LongScope's bundled long documents from the TinyStories validation text.

Input: the TinyStories validation head (CDLA-Sharing-1.0), where every paragraph
is followed by a blank line and story boundaries are not marked.
Output: resources/documents/tinystories_{1,2,3}.txt (stories split at "Once upon a
time"), and tinystories_val_paragraphs.txt: the whole text with a boundary at every
blank line. The second is the segmentation behind the reference figures for
stories260K (its provenance notes: 1.35 nats on the first 512 tokens, which
LongScope measures as 1.349 with it, against 1.32 with story-level splits).

Conventions (README "Documents"):
- A story boundary is a line holding only <|endoftext|>; LongScope encodes each
  story on its own and puts BOS before it, as stories260K saw stories in training.
- A new story starts at a paragraph beginning with "Once upon a time"; the text
  before the first such paragraph (the end of a story cut off by the source) is
  kept as the first part of document 1.
- Double-encoded UTF-8 ("mojibake", e.g. â€œ for “) is repaired.

Usage: python3 tools/make_documents.py INPUT OUTDIR [--stories-per-doc N]
"""
import sys

MOJIBAKE = [
    ("\u00e2\u20ac\u0153", "\u201c"),  # “
    ("\u00e2\u20ac\u2122", "\u2019"),  # ’
    ("\u00e2\u20ac\u02dc", "\u2018"),  # ‘
    ("\u00e2\u20ac\u201c", "\u2013"),  # –
    ("\u00e2\u20ac\u201d", "\u2014"),  # —
    ("\u00e2\u20ac\u00a6", "\u2026"),  # …
    ("\u00e2\u20ac\u0160", " "),       # hair space
    ("\u00e2\u20ac", "\u201d"),        # ” whose last byte (0x9d) was lost
]


def repair(text):
    for bad, good in MOJIBAKE:
        text = text.replace(bad, good)
    return text


def stories(text, keep_leading=False):
    paras = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    out, cur = [], ([] if keep_leading else None)
    for p in paras:
        if p.startswith("Once upon a time"):
            if cur:
                out.append(cur)
            cur = [p]
        elif cur is not None:
            cur.append(p)
    if keep_leading and out and not out[0]:
        out.pop(0)
    if cur:
        out.append(cur)
    return ["\n\n".join(s) for s in out]


def main():
    src, outdir = sys.argv[1], sys.argv[2]
    per_doc = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--stories-per-doc" else 60
    text = repair(open(src, encoding="utf-8").read())
    assert "\u00e2\u20ac" not in text
    all_stories = stories(text, keep_leading=True)
    paras = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    with open(f"{outdir}/tinystories_val_paragraphs.txt", "w", encoding="utf-8") as f:
        f.write("\n<|endoftext|>\n".join(paras) + "\n")
    print(f"tinystories_val_paragraphs.txt: {len(paras)} paragraphs")
    for d in range(3):
        chunk = all_stories[d * per_doc:(d + 1) * per_doc]
        with open(f"{outdir}/tinystories_{d + 1}.txt", "w", encoding="utf-8") as f:
            f.write("\n<|endoftext|>\n".join(chunk) + "\n")
        print(f"tinystories_{d + 1}.txt: {len(chunk)} stories, {sum(len(s) for s in chunk)} characters")


if __name__ == "__main__":
    main()
