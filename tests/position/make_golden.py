#!/usr/bin/env python3
"""Independent reference values for LongScope's position math.

Written from the reference implementations' own structure (Hugging Face
modeling_rope_utils, [ext-notes], [yarn-notes], [alibi-interp] and [rerope] code, BLOOM build_alibi_tensor),
in plain Python `math`, NOT from core/position/position.h. Regenerate with
    python3 tests/position/make_golden.py > tests/position/golden.json
"""
import json, math

def hf_default(base, dim):
    return [1.0 / (base ** (i / dim)) for i in range(0, dim, 2)]

def hf_linear(base, dim, factor):
    return [f / factor for f in hf_default(base, dim)]

def seed_ntk(base, dim, alpha):                     # [ext-notes] §三: base * a ** (dim / (dim-2))
    return hf_default(base * alpha ** (dim / (dim - 2)), dim)

def hf_dynamic(base, dim, factor, seq_len, max_pos):  # HF _compute_dynamic_ntk_parameters
    seq_len = seq_len if seq_len > max_pos else max_pos
    base = base * ((factor * seq_len / max_pos) - (factor - 1)) ** (dim / (dim - 2))
    return hf_default(base, dim)

def seed_dynamic_linear(base, dim, seq_len, max_pos):  # [ext-notes] §四: t *= max_pos / seq_len when seq_len > max_pos
    s = seq_len / max_pos if seq_len > max_pos else 1.0
    return [f / s for f in hf_default(base, dim)]

def hf_yarn(base, dim, factor, L, beta_fast=32, beta_slow=1, truncate=True, attention_factor=None):
    def get_mscale(scale, mscale=1):
        return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0
    if attention_factor is None:
        attention_factor = get_mscale(factor)
    def find_correction_dim(num_rotations):
        return (dim * math.log(L / (num_rotations * 2 * math.pi))) / (2 * math.log(base))
    low, high = find_correction_dim(beta_fast), find_correction_dim(beta_slow)
    if truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    pos_freqs = [base ** (i / dim) for i in range(0, dim, 2)]
    out = []
    for k, pf in enumerate(pos_freqs):
        ramp = min(max((k - low) / (high - low), 0.0), 1.0)
        extra_factor = 1 - ramp
        out.append((1.0 / (factor * pf)) * (1 - extra_factor) + (1.0 / pf) * extra_factor)
    return out, attention_factor

def seed_by_parts(base, dim, factor, L, alpha=1, beta=32):  # [yarn-notes]: r = L / wavelength
    out = []
    for th in hf_default(base, dim):
        r = L / (2 * math.pi / th)
        g = 0.0 if r < alpha else (1.0 if r > beta else (r - alpha) / (beta - alpha))
        out.append((1 - g) * th / factor + g * th)
    return out

def hf_llama3(base, dim, factor, L, low_ff=1, high_ff=4):
    low_wl, high_wl = L / low_ff, L / high_ff
    out = []
    for f in hf_default(base, dim):
        wl = 2 * math.pi / f
        v = f / factor if wl > low_wl else f
        smooth = (L / wl - low_ff) / (high_ff - low_ff)
        smoothed = (1 - smooth) * v / factor + smooth * v
        medium = not (wl < high_wl) and not (wl > low_wl)
        out.append(smoothed if medium else v)
    return out

def bloom_slopes(H):                                # BLOOM build_alibi_tensor
    cp2 = 2 ** math.floor(math.log2(H))
    base = 2 ** (-(2 ** -(math.log2(cp2) - 3)))
    slopes = [base ** p for p in range(1, 1 + cp2)]
    if cp2 != H:
        extra_base = 2 ** (-(2 ** -(math.log2(2 * cp2) - 3)))
        n = min(cp2, H - cp2)
        slopes += [extra_base ** p for p in range(1, 1 + 2 * n, 2)]
    return slopes

def seed_ntk_alibi(H, a):                           # [alibi-interp] code, including its "todo"
    scale = a ** (1.0 / (H - 1))
    cp2 = 2 ** math.floor(math.log2(H))
    base = 2 ** (-(2 ** -(math.log2(cp2) - 3))) / scale
    slopes = [base ** p * scale for p in range(1, 1 + cp2)]
    if cp2 != H:
        extra_base = 2 ** (-(2 ** -(math.log2(2 * cp2) - 3)))
        n = min(cp2, H - cp2)
        slopes += [extra_base ** p for p in range(1, 1 + 2 * n, 2)]
    return slopes

def logscale_ntk_alibi(H, a):                       # docs/methods.md §3 default: m'_h = m_h * a^(-e_h)
    s = bloom_slopes(H)
    hi, lo = max(s), min(s)
    return [m * a ** (-(math.log(hi / m) / math.log(hi / lo))) for m in s]

cases = []
def add(spec, d, base, L, n, inv, af=1.0):
    cases.append({"spec": spec, "head_dim": d, "base": base, "train_len": L, "seq_len": n,
                  "inv_freq": inv, "attention_factor": af})

for d in (8, 128):
    for base in (10000.0, 500000.0):
        for L in (512, 4096):
            add("rope", d, base, L, L, hf_default(base, d))
            add("linear:factor=4", d, base, L, L, hf_linear(base, d, 4))
            add("ntk:alpha=8", d, base, L, L, seed_ntk(base, d, 8))
            for n in (L // 2, L, 3 * L):
                add("dynamic-ntk:alpha=2", d, base, L, n, hf_dynamic(base, d, 2, n, L))
                add("dynamic-linear", d, base, L, n, seed_dynamic_linear(base, d, n, L))
                s = max(1.0, n / L)
                inv, af = hf_yarn(base, d, s, L)
                add("dynamic-yarn", d, base, L, n, inv, af)
            add("ntk-by-parts:factor=4", d, base, L, L, seed_by_parts(base, d, 4, L))
            add("ntk-by-parts:factor=8,alpha=2,beta=16", d, base, L, L, seed_by_parts(base, d, 8, L, 2, 16))
            inv, af = hf_yarn(base, d, 4, L); add("yarn:factor=4", d, base, L, L, inv, af)
            inv, af = hf_yarn(base, d, 16, L, truncate=False); add("yarn:factor=16,truncate=0", d, base, L, L, inv, af)
            inv, af = hf_yarn(base, d, 8, L, 64, 2, attention_factor=1.5)
            add("yarn:factor=8,beta_fast=64,beta_slow=2,attention_factor=1.5", d, base, L, L, inv, af)
            add("llama3", d, base, L, L, hf_llama3(base, d, 8, L))
            add("llama3:factor=4,low_freq_factor=2,high_freq_factor=8", d, base, L, L, hf_llama3(base, d, 4, L, 2, 8))
            add("rerope:window=256", d, base, L, L, hf_default(base, d))

alibi = []
for H in (1, 2, 8, 12, 16, 20, 24, 40):
    alibi.append({"spec": "alibi", "heads": H, "slopes": bloom_slopes(H)})
    alibi.append({"spec": "alibi-linear:a=2", "heads": H, "slopes": [m / 2 for m in bloom_slopes(H)]})
    if H > 1:
        alibi.append({"spec": "ntk-alibi:a=2,seed_exact=1", "heads": H, "slopes": seed_ntk_alibi(H, 2.0)})
        alibi.append({"spec": "ntk-alibi:a=4", "heads": H, "slopes": logscale_ntk_alibi(H, 4.0)})

print(json.dumps({"rope": cases, "alibi": alibi}, indent=0))
