#!/usr/bin/env python3
"""Golden dequantisation vectors for every ggml block type LongScope reads.

The reference is the implementation that defines the formats: llama.cpp's gguf-py
(`gguf/quants.py`, `dequantize`), taken from a llama.cpp source tree (release b4747
for the vectors committed in tests/data/quants/golden.txt). Blocks are random bytes
from a fixed seed, with each block's f16 scale fields overwritten by finite values so
every element is finite. Tests never need the llama.cpp tree: they read the file.

    python3 tests/model/make_quant_golden.py LLAMA_CPP_DIR > tests/data/quants/golden.txt

(numpy from Debian's python3-numpy; gguf-py's package __init__ is bypassed, as it
imports sentencepiece, which the dequantisers do not need.)

Output, one type per stanza:
    type NAME ggml_id block_elements block_bytes n_blocks
    bytes HEX...          (all blocks, hex)
    values V0 V1 ...      (float32 values as %.9g, n_blocks * block_elements of them)
"""
import importlib
import sys
import types

import numpy as np

# (name, byte offsets of f16 scale fields inside one block)
TYPES = [
    ("Q4_0", [0]), ("Q4_1", [0, 2]), ("Q5_0", [0]), ("Q5_1", [0, 2]), ("Q8_0", [0]),
    ("Q2_K", [80, 82]), ("Q3_K", [108]), ("Q4_K", [0, 2]), ("Q5_K", [0, 2]), ("Q6_K", [208]),
    ("IQ4_NL", [0]), ("IQ4_XS", [0]),
]
N_BLOCKS = 3


def main() -> None:
    root = sys.argv[1]
    pkg = types.ModuleType("gguf")
    pkg.__path__ = [root + "/gguf-py/gguf"]
    sys.modules["gguf"] = pkg
    constants = importlib.import_module("gguf.constants")
    quants = importlib.import_module("gguf.quants")
    rng = np.random.default_rng(20261207)
    for name, scale_offsets in TYPES:
        qtype = constants.GGMLQuantizationType[name]
        block_elems, block_bytes = constants.GGML_QUANT_SIZES[qtype]
        raw = rng.integers(0, 256, size=(N_BLOCKS, block_bytes), dtype=np.uint8)
        for b in range(N_BLOCKS):
            for off in scale_offsets:
                scale = np.float16(rng.uniform(0.05, 1.5) * (1 if off == scale_offsets[0] else rng.choice([-1, 1])))
                raw[b, off:off + 2] = np.frombuffer(scale.tobytes(), dtype=np.uint8)
        values = quants.dequantize(raw.reshape(-1), qtype).astype(np.float32).reshape(-1)
        assert values.size == N_BLOCKS * block_elems and np.all(np.isfinite(values)), name
        print(f"type {name} {int(qtype)} {block_elems} {block_bytes} {N_BLOCKS}")
        print("bytes " + raw.tobytes().hex())
        print("values " + " ".join(f"{v:.9g}" for v in values))


if __name__ == "__main__":
    main()
