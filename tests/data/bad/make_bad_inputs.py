#!/usr/bin/env python3
"""Writes the minimised bad inputs of tests/data/bad/ (each once crashed or misled
LongScope; tests/model/test_hostile_inputs.cpp loads every one and expects one clear
error). Run from anywhere: python3 tests/data/bad/make_bad_inputs.py"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
U32, I32, F32, STR, ARR, U64 = 4, 5, 6, 8, 9, 10


def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, typ, val):
    out = s(key) + struct.pack("<I", typ)
    if typ == U32:
        out += struct.pack("<I", val)
    elif typ == U64:
        out += struct.pack("<Q", val)
    elif typ == I32:
        out += struct.pack("<i", val)
    elif typ == F32:
        out += struct.pack("<f", val)
    elif typ == STR:
        out += s(val)
    elif typ == ARR:
        et, items, count = val
        out += struct.pack("<IQ", et, len(items) if count is None else count)
        for it in items:
            out += s(it) if et == STR else struct.pack("<i", it)
    return out


def gguf(meta, tensors):
    """meta: list of kv() blobs; tensors: list of (name, shape innermost-first, n floats)."""
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)) + b"".join(meta)
    data, off = b"", 0
    for name, ne, n in tensors:
        head += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        head += struct.pack("<IQ", 0, off)
        blob = struct.pack("<%df" % n, *([0.01] * n))
        blob += b"\0" * ((32 - len(blob) % 32) % 32)
        data += blob
        off += len(blob)
    head += b"\0" * ((32 - len(head) % 32) % 32)
    return head + data


def write(name, blob):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(blob)


def proto_varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def proto_bytes(field, b):
    return proto_varint(field << 3 | 2) + proto_varint(len(b)) + b


def nul_piece_model():
    # SentencePiece ModelProto (sentencepiece_model.proto): a unigram model whose second
    # piece starts with a NUL byte, so its trie builder (darts-clone, C-string keys) sees a
    # zero-length key and throws instead of returning a status. Found by
    # fuzz_tokenizer_model; it ended the process before.
    unk = proto_bytes(1, b"<unk>") + proto_varint(3 << 3) + proto_varint(2)  # type UNKNOWN
    empty = proto_bytes(1, b"\0k") + proto_varint(3 << 3) + proto_varint(1)  # type NORMAL
    write("nul_piece.model", proto_bytes(1, unk) + proto_bytes(1, empty))


def bloom_key_length():
    # dim 8, 2 heads, but key_length 16 > 8/2: the fused QKV split wrote past its buffers.
    d, hid, V = 8, 32, 16
    meta = [kv("general.architecture", STR, "bloom"), kv("bloom.embedding_length", U32, d),
            kv("bloom.feed_forward_length", U32, hid), kv("bloom.block_count", U32, 1),
            kv("bloom.attention.head_count", U32, 2), kv("bloom.attention.key_length", U32, 16),
            kv("bloom.context_length", U32, 64)]
    t = [("token_embd.weight", [d, V], d * V), ("token_embd_norm.weight", [d], d), ("token_embd_norm.bias", [d], d),
         ("output_norm.weight", [d], d), ("output_norm.bias", [d], d),
         ("blk.0.attn_norm.weight", [d], d), ("blk.0.attn_norm.bias", [d], d),
         ("blk.0.attn_qkv.weight", [d, 3 * d], 3 * d * d), ("blk.0.attn_qkv.bias", [3 * d], 3 * d),
         ("blk.0.attn_output.weight", [d, d], d * d), ("blk.0.attn_output.bias", [d], d),
         ("blk.0.ffn_norm.weight", [d], d), ("blk.0.ffn_norm.bias", [d], d),
         ("blk.0.ffn_up.weight", [d, hid], d * hid), ("blk.0.ffn_up.bias", [hid], hid),
         ("blk.0.ffn_down.weight", [hid, d], d * hid), ("blk.0.ffn_down.bias", [d], d)]
    write("bloom_key_length.gguf", gguf(meta, t))


def llama_meta(**override):
    m = {"general.architecture": (STR, "llama"), "llama.embedding_length": (U32, 8),
         "llama.feed_forward_length": (U32, 16), "llama.block_count": (U32, 1),
         "llama.attention.head_count": (U32, 2), "llama.context_length": (U32, 64)}
    m.update(override)
    return [kv(k, t, v) for k, (t, v) in m.items()]


def byte_level_tokenizer(pre=None):
    """A byte-level BPE tokenizer.json of GPT-2's 256 byte symbols, no merges, no
    added tokens (so no BOS), as tests/tokenizer/hostile_tokenizers.h writes it."""
    def printable(b):
        return ord("!") <= b <= ord("~") or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF
    vocab, extra = {}, 0
    for b in range(256):
        if printable(b):
            vocab[chr(b)] = b
        else:
            vocab[chr(256 + extra)] = b
            extra += 1
    return {"version": "1.0", "added_tokens": [], "normalizer": None,
            "pre_tokenizer": pre or {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                     "use_regex": True},
            "post_processor": None, "decoder": {"type": "ByteLevel"},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "fuse_unk": False,
                      "byte_fallback": False, "vocab": vocab, "merges": []}}


def tokenizers():
    # A tokenizer.json nested 5000 levels deep inside model (and inside the
    # pre-tokenizer): the recursive copy of the subtree overflowed the stack in info,
    # tokenize, ppl and the app, for any model folder that held it.
    text = json.dumps(byte_level_tokenizer(), separators=(",", ":"))
    nest = "[" * 5000 + "]" * 5000
    write("deep_model_tokenizer.json", text.replace('"dropout":null', '"dropout":' + nest).encode())
    write("deep_pre_tokenizer.json", text.replace('"trim_offsets":true', '"trim_offsets":' + nest).encode())
    # A config.json and a safetensors index nested as deep.
    os.makedirs(os.path.join(HERE, "deep_config"), exist_ok=True)
    write("deep_config/config.json", ('{"architectures":["LlamaForCausalLM"],"x":' + nest + "}").encode())
    # No BOS-like token: `tokenize` printed id -1 before the text.
    write("no_bos_tokenizer.json", text.encode())
    # A pre-tokenizer regex that backtracks exponentially in its repeat bound: 512
    # bytes of a's took 40-47 s under PCRE2's default match limit.
    pre = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "(a|aa){1,40}b"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]}
    write("backtracking_tokenizer.json", json.dumps(byte_level_tokenizer(pre), separators=(",", ":")).encode())


def huge_offset():
    # A tensor offset of 2^64-1 was reported as a small number (it wrapped when the
    # header size was added).
    head = gguf(llama_meta(), [("token_embd.weight", [8, 16], 128)])
    name = b"token_embd.weight"
    at = head.find(name) + len(name) + 4 + 2 * 8 + 4  # n_dims, two dims, type
    write("huge_offset.gguf", head[:at] + struct.pack("<Q", (1 << 64) - 1) + head[at + 8:])


def main():
    bloom_key_length()
    tokenizers()
    huge_offset()
    nul_piece_model()
    emb = [("token_embd.weight", [8, 16], 128)]
    # A key present with the wrong type (bad_variant_access before).
    write("wrong_type_key.gguf", gguf(llama_meta(**{"llama.attention.head_count_kv": (STR, "four")}), emb))
    write("wrong_type_scaling.gguf", gguf(llama_meta(**{"llama.rope.scaling.type": (U32, 3)}), emb))
    # An array that claims 2^40 elements in a file of a few hundred bytes.
    write("huge_array.gguf", gguf(llama_meta(**{"tokenizer.ggml.token_type": (ARR, (I32, [1, 2], 1 << 40))}), emb))
    # A layer count past int range (read as -2147483648 before).
    write("huge_layer_count.gguf", gguf(llama_meta(**{"llama.block_count": (U64, 1 << 33)}), emb))
    # llama2.c header whose vocabulary is INT32_MIN (negating it was undefined).
    write("int_min_vocab.bin", struct.pack("<7i", 8, 16, 1, 2, 2, -(1 << 31), 64) + b"\0" * 64)
    for name, cfg in {
        "config_wrong_type": {"architectures": ["LlamaForCausalLM"], "model_type": 7, "hidden_size": 64},
        "config_arch_not_string": {"architectures": [5]},
        "config_huge_number": {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
                               "num_hidden_layers": 1e30, "num_attention_heads": 8, "vocab_size": 512},
        "bloom_indivisible": {"architectures": ["BloomForCausalLM"], "hidden_size": 64, "n_head": 6, "n_layer": 1,
                              "vocab_size": 512},
    }.items():
        os.makedirs(os.path.join(HERE, name), exist_ok=True)
        with open(os.path.join(HERE, name, "config.json"), "w") as f:
            json.dump(cfg, f)


if __name__ == "__main__":
    main()
