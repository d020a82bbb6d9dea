#!/usr/bin/python3
"""Training recipe for LongScope's RoPE / ALiBi twins (a tool, not part of the product).

Two same-size decoder-only models trained at a short context L on public-domain
books, so the app can show what happens beyond L:
  - RoPE twin: LLaMA architecture (RMSNorm, SwiGLU, RoPE base 10000, head_dim 64,
    interleaved pairs), exported as GGUF (llama, F16, vocabulary embedded,
    context_length = L);
  - ALiBi twin: BLOOM architecture (LayerNorm, GELU, ALiBi, power-of-two heads),
    exported as Hugging Face safetensors + config.json + tokenizer.model.

Steps (each resumable):
  python3 train.py data   --books DIR --out RUN [--tokenizer M]  # tokenizer (SentencePiece BPE, or M) + token files
  python3 train.py train  --arch rope|alibi --out RUN [--steps N] [--minutes M] [--retrieval F] [--device cuda]
  python3 train.py export --arch rope|alibi --out RUN --dest DIR
  python3 train.py import --arch rope|alibi --out RUN --dest DIR   # shipped twin -> RUN checkpoint
Needs Debian's python3-torch, python3-numpy and python3-sentencepiece (and the
sentencepiece tools' spm_train when no --tokenizer is given).

--retrieval F (0 … 1) makes that share of the training rows retrieval text: a passkey
prompt (filler, needle at a random depth, question, answer) or a register of
numbered lines and a question on one of them, built exactly as LongScope's
evaluations build them (core/analysis/retrieval.cpp: each segment encoded on its
own, token lists concatenated). A model trained so learns to fetch a far key,
which is what breaks beyond L. Seeds are fixed; a metadata file records data, steps,
tokens seen, final loss, training time and hardware.

`import` turns a shipped twin (the files `export` wrote, in DIR, and its metadata json)
back into a checkpoint in RUN, so a later phase can go on from it on a machine that
kept no checkpoint. The optimiser state is not in the shipped files: the next `train`
starts AdamW afresh and warms its learning rate up again over 100 steps.
"""
import argparse, glob, json, math, os, platform, struct, subprocess, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import sentencepiece as spm

HELD_OUT = ["alice_in_wonderland.txt", "the_wonderful_wizard_of_oz.txt"]  # evaluation books, never trained on
EXCLUDE = ["tinyshakespeare.txt"]  # a play anthology, not prose
SHAPE = dict(dim=128, n_layers=4, hidden=344, vocab=4096, train_len=256)
HEADS = {"rope": 2, "alibi": 4}  # head_dim 64 for the RoPE twin; a power of two for ALiBi


def clean_book(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    start = text.find("*** START OF")
    if start >= 0:
        text = text[text.find("\n", start) + 1:]
    end = text.find("*** END OF")
    if end >= 0:
        text = text[:end]
    return text.strip()


def running_text(text):
    """A book as the twins read it in training: the data step encodes each line on its own
    (SentencePiece's dummy prefix starts each with a space) and drops empty lines, so a
    line break reads as one space and the model never sees a newline token."""
    return " ".join(line for line in text.split("\n") if line)


def cmd_data(a):
    os.makedirs(a.out, exist_ok=True)
    if not a.books:
        sys.exit("give --books DIR (or set LONGSCOPE_BOOKS): the plain-text books to train on")
    books = sorted(glob.glob(os.path.join(a.books, "*.txt")))
    train = [b for b in books if os.path.basename(b) not in HELD_OUT + EXCLUDE]
    held = [b for b in books if os.path.basename(b) in HELD_OUT]
    with open(os.path.join(a.out, "train.txt"), "w", encoding="utf-8") as f:
        for b in train:
            f.write(clean_book(open(b, encoding="utf-8").read()) + "\n")
    # The evaluation document (resources/documents/heldout_books.txt): the held-out books in
    # the training text's own form, one part each (BOS at its start).
    with open(os.path.join(a.out, "heldout_books.txt"), "w", encoding="utf-8") as f:
        f.write("\n<|endoftext|>\n".join(running_text(clean_book(open(b, encoding="utf-8").read())) for b in held) + "\n")
    prefix = os.path.join(a.out, "tokenizer")
    if a.tokenizer:  # reuse a tokenizer (the shipped twins'), so new twins share its vocabulary
        subprocess.run(["cp", a.tokenizer, prefix + ".model"], check=True)
    else:
        subprocess.run(["spm_train", f"--input={a.out}/train.txt", f"--model_prefix={prefix}",
                        f"--vocab_size={SHAPE['vocab']}", "--model_type=bpe", "--byte_fallback=true",
                        "--character_coverage=1.0", "--normalization_rule_name=identity",
                        "--remove_extra_whitespaces=false", "--split_digits=true", "--unk_id=0", "--bos_id=1",
                        "--eos_id=2", "--pad_id=-1", "--input_sentence_size=400000", "--shuffle_input_sentence=true",
                        "--num_threads=2", "--seed_sentencepiece_size=200000", "--max_sentence_length=8192"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    toks = [1]
    for line in open(os.path.join(a.out, "train.txt"), encoding="utf-8").read().split("\n"):
        toks.extend(sp.encode(line))
    np.array(toks, dtype=np.uint16).tofile(os.path.join(a.out, "train.u16"))
    json.dump({"train_books": [os.path.basename(b) for b in train], "held_out_books": HELD_OUT,
               "excluded": EXCLUDE, "train_tokens": len(toks)}, open(os.path.join(a.out, "data.json"), "w"), indent=1)
    print(f"{len(train)} books, {len(toks)} training tokens; held out {HELD_OUT}")


# Retrieval text, segment for segment as core/analysis/retrieval.cpp builds it.
PASSKEY_INTRO = ("There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. "
                 "I will quiz you about the important information there.")
PASSKEY_FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
PASSKEY_NEEDLE = "The pass key is {key}. Remember it. {key} is the pass key."
PASSKEY_QUESTION = "What is the pass key? The pass key is"
LINES_INTRO = "Below is a record of lines I want you to remember."
LINES_LINE = "line {name}: REGISTER_CONTENT is <{value}>"
LINES_QUESTION = "The <REGISTER_CONTENT> in line {name} is"
LINES_ANSWER = "<{value}>"


class RetrievalText:
    """Rows of passkey prompts (standard filler or book text around the needle) and
    numbered-line registers, each followed by its answer, then book text to the row's end."""

    def __init__(self, out, data, rng, lines_share=0.4, row_min=48):
        self.lines_share, self.row_min = lines_share, row_min
        self.sp = spm.SentencePieceProcessor(model_file=os.path.join(out, "tokenizer.model"))
        self.data, self.rng = data, rng
        enc = self.sp.encode
        self.intro, self.filler, self.question = enc(PASSKEY_INTRO), enc(PASSKEY_FILLER), enc(PASSKEY_QUESTION)
        self.lines_intro = enc(LINES_INTRO)
        words = sorted({w for w in open(os.path.join(out, "train.txt"), encoding="utf-8").read(2_000_000).lower().split()
                        if w.isalpha() and 3 <= len(w) <= 10})
        self.words = words

    def book(self, n):
        s = int(self.rng.integers(0, len(self.data) - n - 1))
        return [int(t) for t in self.data[s:s + n]]

    def passkey(self, n):
        key = str(int(self.rng.integers(10000, 100000)))
        needle, answer = self.sp.encode(PASSKEY_NEEDLE.format(key=key)), self.sp.encode(key)
        fill = n - 1 - len(self.intro) - len(needle) - len(self.question)
        if self.rng.random() < 0.5:
            filler = (self.filler * (fill // len(self.filler) + 1))[:fill]
        else:
            filler = self.book(fill)
        at = int(round(self.rng.random() * fill))
        prompt = [1] + self.intro + filler[:at] + needle + filler[at:] + self.question
        return prompt + answer, len(prompt)

    def lines(self, n):
        out, names = [1] + list(self.lines_intro), []
        while True:
            name = "-".join(self.words[int(i)] for i in self.rng.integers(0, len(self.words), 2))
            value = int(self.rng.integers(1, 50000))
            line = self.sp.encode(LINES_LINE.format(name=name, value=value))
            if len(out) + len(line) > n - 24 and names:
                break
            out += line
            names.append((name, value))
        name, value = names[int(self.rng.integers(0, len(names)))]
        prompt = out + self.sp.encode(LINES_QUESTION.format(name=name))
        return prompt + self.sp.encode(LINES_ANSWER.format(value=value)), len(prompt)

    def row(self, L):
        """(tokens[L+1], answer mask[L]): the mask marks the targets that are answer tokens."""
        n = int(self.rng.integers(self.row_min, L - 8))
        seq, ans = self.passkey(n) if self.rng.random() < 1 - self.lines_share else self.lines(n)
        mask = np.zeros(L, dtype=bool)
        mask[max(0, ans - 1):min(L, len(seq) - 1)] = True  # target t+1 is predicted at t
        seq = seq[:L + 1]
        if len(seq) < L + 1:
            seq += [1] + self.book(L - len(seq))
        return np.array(seq[:L + 1], dtype=np.int64), mask


class Block(nn.Module):
    def __init__(self, arch, d, h, hid):
        super().__init__()
        self.arch, self.h, self.hd = arch, h, d // h
        if arch == "rope":
            self.n1, self.n2 = RMSNorm(d), RMSNorm(d)
            self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))
            self.gate, self.up = nn.Linear(d, hid, bias=False), nn.Linear(d, hid, bias=False)
            self.down = nn.Linear(hid, d, bias=False)
        else:
            self.n1, self.n2 = nn.LayerNorm(d, eps=1e-5), nn.LayerNorm(d, eps=1e-5)
            self.qkv = nn.Linear(d, 3 * d)  # HF BLOOM layout: (head, {q,k,v}, head_dim)
            self.o = nn.Linear(d, d)
            self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x, pos):
        B, T, D = x.shape
        y = self.n1(x)
        if self.arch == "rope":
            q, k, v = (m(y).view(B, T, self.h, self.hd).transpose(1, 2) for m in (self.q, self.k, self.v))
            q, k = rope_interleaved(q, pos), rope_interleaved(k, pos)
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") \
                else manual_attention(q, k, v, None)
        else:
            qkv = self.qkv(y).view(B, T, self.h, 3, self.hd)
            q, k, v = (qkv[:, :, :, i].transpose(1, 2) for i in range(3))
            att = manual_attention(q, k, v, alibi_bias(self.h, T, x.device))
        x = x + self.o(att.transpose(1, 2).reshape(B, T, D))
        y = self.n2(x)
        if self.arch == "rope":
            return x + self.down(F.silu(self.gate(y)) * self.up(y))
        return x + self.down(F.gelu(self.up(y), approximate="tanh"))


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


def rope_interleaved(x, pos, base=10000.0):
    """Adjacent pairs (x[2i], x[2i+1]) rotated by pos·base^(-2i/d): the GGUF/llama2.c layout."""
    d = x.shape[-1]
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    ang = (pos[:, None].double() * inv[None, :]).float()
    c, s = ang.cos(), ang.sin()
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * c - b * s, a * s + b * c), dim=-1).flatten(-2)


def alibi_slopes(h):
    return torch.tensor([2 ** (-8 * (i + 1) / h) for i in range(h)])  # h is a power of two


def alibi_bias(h, T, device):
    pos = torch.arange(T, device=device)
    dist = (pos[:, None] - pos[None, :]).clamp(min=0).float()
    return -alibi_slopes(h).to(device)[:, None, None] * dist


def manual_attention(q, k, v, bias):
    T = q.shape[-2]
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if bias is not None:
        s = s + bias
    s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool, device=q.device), 1), float("-inf"))
    return s.softmax(-1) @ v


class Model(nn.Module):
    def __init__(self, arch):
        super().__init__()
        d, V = SHAPE["dim"], SHAPE["vocab"]
        self.arch = arch
        self.emb = nn.Embedding(V, d)
        self.emb_norm = nn.LayerNorm(d, eps=1e-5) if arch == "alibi" else None
        self.blocks = nn.ModuleList(Block(arch, d, HEADS[arch], SHAPE["hidden"]) for _ in range(SHAPE["n_layers"]))
        self.norm = RMSNorm(d) if arch == "rope" else nn.LayerNorm(d, eps=1e-5)
        self.out = nn.Linear(d, V, bias=False)
        self.out.weight = self.emb.weight  # tied
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx):
        x = self.emb(idx)
        if self.emb_norm is not None:
            x = self.emb_norm(x)
        pos = torch.arange(idx.shape[1], device=idx.device)
        for b in self.blocks:
            x = b(x, pos)
        return self.out(self.norm(x))


def cmd_train(a):
    torch.manual_seed(1234)
    np.random.seed(1234)
    torch.set_num_threads(a.threads)
    data = np.fromfile(os.path.join(a.out, "train.u16"), dtype=np.uint16).astype(np.int64)
    L, B = SHAPE["train_len"], a.batch
    if not 1 <= a.row_min < L - 8:
        raise SystemExit(f"--row-min {a.row_min}: give 1 … {L - 9}")
    dev = torch.device(a.device)
    model = Model(a.arch).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.1)
    ck = os.path.join(a.out, f"{a.arch}.pt")
    step, tokens, elapsed, losses, book_losses = 0, 0, 0.0, [], []
    warm_from = 0  # the step the learning-rate warm-up counts from: 0, or an import's step
    if os.path.exists(ck):
        s = torch.load(ck, map_location=dev, weights_only=False)  # our own checkpoint
        model.load_state_dict(s["model"])
        if s["opt"] is not None:
            opt.load_state_dict(s["opt"])
        else:  # an imported twin: a fresh optimiser warms up again
            warm_from = s["step"]
        step, tokens, elapsed, losses = s["step"], s["tokens"], s["elapsed"], s["losses"]
        book_losses = s.get("book_losses", [])
        print(f"resumed {a.arch} at step {step}")
    rng = np.random.default_rng(1234 + step)
    retr = RetrievalText(a.out, data, np.random.default_rng(4321 + step), a.lines_share, a.row_min)
    n_params = sum(p.numel() for p in model.parameters())
    t0 = time.time()
    while step < a.steps and (time.time() - t0) / 60 < a.minutes:
        lr = a.lr * min(1.0, (step + 1 - warm_from) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / a.steps))))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = rng.integers(0, len(data) - L - 1, size=B)
        rows = [data[s:s + L + 1] for s in starts]
        weight = np.ones((B, L), dtype=np.float32)
        n_retr = int(round(B * a.retrieval))
        for i in range(n_retr):  # the first n_retr rows are retrieval text, the rest book text
            rows[i], ans = retr.row(L)
            weight[i][ans] = a.answer_weight
        batch = torch.from_numpy(np.stack(rows)).to(dev)
        x, y = batch[:, :L], batch[:, 1:]
        per_tok = F.cross_entropy(model(x).reshape(-1, SHAPE["vocab"]), y.reshape(-1), reduction="none").view(B, L)
        w = torch.from_numpy(weight).to(dev)
        loss = (per_tok * w).sum() / w.sum()
        book_losses.append(float(per_tok[n_retr:].mean()) if n_retr < B else float("nan"))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += B * L
        losses.append(float(loss))
        if step % a.save_every == 0 or step == a.steps:
            el = elapsed + time.time() - t0
            print(f"{a.arch} step {step} loss {np.mean(losses[-a.save_every:]):.3f} book {np.nanmean(book_losses[-a.save_every:]):.3f} lr {lr:.2e} {el / step:.2f}s/step", flush=True)
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "tokens": tokens,
                        "elapsed": el, "losses": losses, "book_losses": book_losses}, ck)
    elapsed += time.time() - t0
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "tokens": tokens,
                "elapsed": elapsed, "losses": losses, "book_losses": book_losses}, ck)
    meta = {"arch": a.arch, "params": n_params, "shape": SHAPE, "heads": HEADS[a.arch], "steps": step,
            "batch": B, "train_len": L, "tokens_seen": tokens, "final_loss": float(np.mean(losses[-50:])),
            "final_book_loss": float(np.nanmean(book_losses[-50:])) if book_losses else None,
            "retrieval_share": a.retrieval, "lines_share": a.lines_share, "row_min": a.row_min, "answer_weight": a.answer_weight,
            "train_seconds": round(elapsed), "lr": a.lr, "seed": 1234, "torch": torch.__version__,
            "hardware": (torch.cuda.get_device_name(dev) if dev.type == "cuda"
                         else f"{platform.processor() or platform.machine()}, {a.threads} CPU thread(s)"),
            "data": json.load(open(os.path.join(a.out, "data.json")))}
    json.dump(meta, open(os.path.join(a.out, f"{a.arch}_metadata.json"), "w"), indent=1)
    print(json.dumps({k: meta[k] for k in ("arch", "params", "steps", "tokens_seen", "final_loss", "train_seconds")}))


def vocab(out):
    sp = spm.SentencePieceProcessor(model_file=f"{out}/tokenizer.model")
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    scores = [float(sp.get_score(i)) for i in range(sp.get_piece_size())]
    types = [2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i) else 1
             for i in range(sp.get_piece_size())]
    return pieces, scores, types


def write_gguf(path, meta, tensors):
    """GGUF v3 writer (llama.cpp's format): metadata, then F32/F16 tensors, 32-byte aligned."""
    def s(x):
        b = x.encode("utf-8"); return struct.pack("<Q", len(b)) + b
    def val(v):
        if isinstance(v, str): return struct.pack("<I", 8) + s(v)
        if isinstance(v, float): return struct.pack("<If", 6, v)
        if isinstance(v, int): return struct.pack("<II", 4, v)
        kind, items = v
        if kind == "str": return struct.pack("<IIQ", 9, 8, len(items)) + b"".join(s(x) for x in items)
        if kind == "f32": return struct.pack("<IIQ", 9, 6, len(items)) + struct.pack(f"<{len(items)}f", *items)
        return struct.pack("<IIQ", 9, 5, len(items)) + struct.pack(f"<{len(items)}i", *items)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta))
    head += b"".join(s(k) + val(v) for k, v in meta.items())
    blobs, off = [], 0
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr.astype(np.float16 if arr.ndim == 2 else np.float32))
        head += s(name) + struct.pack("<I", arr.ndim) + struct.pack(f"<{arr.ndim}Q", *arr.shape[::-1])
        head += struct.pack("<IQ", 1 if arr.dtype == np.float16 else 0, off)
        pad = (32 - arr.nbytes % 32) % 32
        blobs.append(arr.tobytes() + b"\0" * pad); off += arr.nbytes + pad
    head += b"\0" * ((32 - len(head) % 32) % 32)
    with open(path, "wb") as f:
        f.write(head + b"".join(blobs))


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr.astype(np.float32))
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + arr.nbytes]}
        blobs.append(arr.tobytes()); off += arr.nbytes
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def tensor_names(arch):
    """(name in train.py's model, name in the exported file), in the export's order: the
    GGUF llama names for the RoPE twin, Hugging Face BLOOM names for the ALiBi twin."""
    nl = SHAPE["n_layers"]
    if arch == "rope":
        per = {"n1": "attn_norm", "q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output",
               "n2": "ffn_norm", "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"}
        return [("emb.weight", "token_embd.weight"), ("norm.weight", "output_norm.weight")] + \
            [(f"blocks.{i}.{ours}.weight", f"blk.{i}.{theirs}.weight") for i in range(nl) for ours, theirs in per.items()]
    per = {"n1": "input_layernorm", "n2": "post_attention_layernorm", "qkv": "self_attention.query_key_value",
           "o": "self_attention.dense", "up": "mlp.dense_h_to_4h", "down": "mlp.dense_4h_to_h"}
    return [("emb.weight", "transformer.word_embeddings.weight"),
            ("emb_norm.weight", "transformer.word_embeddings_layernorm.weight"),
            ("emb_norm.bias", "transformer.word_embeddings_layernorm.bias"),
            ("norm.weight", "transformer.ln_f.weight"), ("norm.bias", "transformer.ln_f.bias")] + \
        [(f"blocks.{i}.{ours}.{kind}", f"transformer.h.{i}.{theirs}.{kind}")
         for i in range(nl) for ours, theirs in per.items() for kind in ("weight", "bias")]


def read_gguf(path):
    """Tensors of a GGUF v3 file as write_gguf writes them (F32/F16), as float32 arrays."""
    buf = open(path, "rb").read()
    at = 4  # past the magic
    def take(fmt):
        nonlocal at
        v = struct.unpack_from("<" + fmt, buf, at); at += struct.calcsize("<" + fmt)
        return v if len(v) > 1 else v[0]
    def string():
        nonlocal at
        n = take("Q"); at += n
        return buf[at - n:at].decode("utf-8")
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    def skip(kind):
        nonlocal at
        if kind == 8: string()
        elif kind == 9:
            inner, n = take("IQ")
            for _ in range(n): skip(inner)
        else: at += sizes[kind]
    if buf[:4] != b"GGUF" or take("I") != 3:
        raise SystemExit(f"{path}: not a GGUF v3 file")
    n_tensors, n_meta = take("QQ")
    for _ in range(n_meta):
        string(); skip(take("I"))
    infos = []
    for _ in range(n_tensors):
        name, nd = string(), take("I")
        dims = [take("Q") for _ in range(nd)]
        kind, off = take("IQ")
        infos.append((name, dims[::-1], kind, off))
    base = (at + 31) // 32 * 32
    out = {}
    for name, shape, kind, off in infos:
        dt = {0: np.float32, 1: np.float16}[kind]
        n = int(np.prod(shape))
        out[name] = np.frombuffer(buf, dtype=dt, count=n, offset=base + off).reshape(shape).astype(np.float32)
    return out


def read_safetensors(path):
    buf = open(path, "rb").read()
    n = struct.unpack_from("<Q", buf)[0]
    header = json.loads(buf[8:8 + n])
    return {k: np.frombuffer(buf, dtype=np.float32, count=int(np.prod(v["shape"])),
                             offset=8 + n + v["data_offsets"][0]).reshape(v["shape"])
            for k, v in header.items() if k != "__metadata__"}


def cmd_import(a):
    """A shipped twin back into RUN/<arch>.pt (weights, step and tokens from its metadata)."""
    if a.arch == "rope":
        t = read_gguf(os.path.join(a.dest, "rope_twin.gguf"))
    else:
        t = read_safetensors(os.path.join(a.dest, "alibi_twin", "model.safetensors"))
    sd = {ours: t[theirs] for ours, theirs in tensor_names(a.arch)}
    meta_path = os.path.join(a.dest, f"{a.arch}_metadata.json")
    model = Model(a.arch)
    state = {k: torch.from_numpy(np.array(v)) for k, v in sd.items()}
    state["out.weight"] = state["emb.weight"]  # tied
    model.load_state_dict(state)
    meta = json.load(open(meta_path))
    ck = os.path.join(a.out, f"{a.arch}.pt")
    if os.path.exists(ck):
        raise SystemExit(f"{ck} exists; move it away first")
    os.makedirs(a.out, exist_ok=True)
    torch.save({"model": model.state_dict(), "opt": None, "step": meta["steps"], "tokens": meta["tokens_seen"],
                "elapsed": float(meta["train_seconds"]), "losses": [], "book_losses": []}, ck)
    print(f"imported {a.arch} at step {meta['steps']} from {a.dest} into {ck}")


def cmd_export(a):
    model = Model(a.arch)
    model.load_state_dict(torch.load(os.path.join(a.out, f"{a.arch}.pt"), map_location="cpu", weights_only=False)["model"])
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    tensors = [(theirs, sd[ours]) for ours, theirs in tensor_names(a.arch)]
    os.makedirs(a.dest, exist_ok=True)
    L, nl, h = SHAPE["train_len"], SHAPE["n_layers"], HEADS[a.arch]
    if a.arch == "rope":
        pieces, scores, types = vocab(a.out)
        meta = {"general.architecture": "llama", "general.name": "longscope-rope-twin",
                "llama.context_length": L, "llama.embedding_length": SHAPE["dim"],
                "llama.feed_forward_length": SHAPE["hidden"], "llama.block_count": nl,
                "llama.attention.head_count": h, "llama.attention.head_count_kv": h,
                "llama.rope.dimension_count": SHAPE["dim"] // h, "llama.rope.freq_base": 10000.0,
                "llama.attention.layer_norm_rms_epsilon": 1e-5, "tokenizer.ggml.model": "llama",
                "tokenizer.ggml.tokens": ("str", pieces), "tokenizer.ggml.scores": ("f32", scores),
                "tokenizer.ggml.token_type": ("i32", types), "tokenizer.ggml.bos_token_id": 1,
                "tokenizer.ggml.eos_token_id": 2, "tokenizer.ggml.unknown_token_id": 0}
        write_gguf(os.path.join(a.dest, "rope_twin.gguf"), meta, tensors)
    else:
        cfg = {"architectures": ["BloomForCausalLM"], "model_type": "bloom", "hidden_size": SHAPE["dim"],
               "n_layer": nl, "n_head": h, "layer_norm_epsilon": 1e-5, "vocab_size": SHAPE["vocab"],
               "seq_length": L, "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": True,
               "_name_or_path": "longscope-alibi-twin"}
        json.dump(cfg, open(os.path.join(a.dest, "config.json"), "w"), indent=1)
        write_safetensors(os.path.join(a.dest, "model.safetensors"), tensors)
        subprocess.run(["cp", os.path.join(a.out, "tokenizer.model"), os.path.join(a.dest, "tokenizer.model")], check=True)
    print("exported", a.arch, "to", a.dest)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["data", "train", "export", "import"])
    ap.add_argument("--books", default=os.environ.get("LONGSCOPE_BOOKS"),
                    help="folder of the plain-text books (resources/models/README.md lists them; default $LONGSCOPE_BOOKS)")
    ap.add_argument("--out", default="tools/train/runs/twins")
    ap.add_argument("--dest", default="resources/models")
    ap.add_argument("--arch", choices=["rope", "alibi"], default="rope")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--minutes", type=float, default=1e9)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="torch device to train on: cpu (default) or cuda")
    ap.add_argument("--save-every", type=int, default=25, help="steps between a log line and a checkpoint")
    ap.add_argument("--retrieval", type=float, default=0.0, help="share of rows that are retrieval text")
    ap.add_argument("--lines-share", type=float, default=0.4, help="share of the retrieval rows that are line registers")
    ap.add_argument("--row-min", type=int, default=48, help="shortest retrieval prompt, in tokens (at most L - 9)")
    ap.add_argument("--answer-weight", type=float, default=1.0, help="loss weight of the answer tokens of retrieval rows")
    ap.add_argument("--tokenizer", default="", help="an existing SentencePiece model to reuse (data step)")
    a = ap.parse_args()
    {"data": cmd_data, "train": cmd_train, "export": cmd_export, "import": cmd_import}[a.cmd](a)


if __name__ == "__main__":
    main()
