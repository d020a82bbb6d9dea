// Applying rotary angles to one head vector, in either pair layout, and the score
// soft-cap: the score-operand helpers the row path, the tiled CPU kernels, their
// emulator and the CUDA kernels share, written once. The angle tables come from
// core/position/tables.h (no formula here). The attention factor is folded into cos
// and sin, as Hugging Face does, so pass-through dimensions of a partial-rotary head
// stay unscaled.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "core/position/position.h"
#include "core/position/tables.h"

namespace ls {

// The dimensions (a, b) of rotary pair i of a head whose first rd dims rotate.
LS_HD void rope_pair_dims(PairLayout layout, int rd, int i, int* a, int* b) {
  *a = layout == PairLayout::Interleaved ? 2 * i : i;
  *b = layout == PairLayout::Interleaved ? 2 * i + 1 : i + rd / 2;
}

// The rotary pair dimension d (< rd) belongs to, and whether d is its first member a.
LS_HD int rope_pair_of(PairLayout layout, int rd, int d, bool* first) {
  if (layout == PairLayout::Interleaved) {
    *first = d % 2 == 0;
    return d / 2;
  }
  *first = d < rd / 2;
  return *first ? d : d - rd / 2;
}

// y = R(angles)·x for the first rd dims of a head of hd dims; cs/sn hold rd/2 values.
// y may be x. LS_HD (position.h): the tiled kernels' per-ISA builds get their own
// internal copy (core/cpu/flash_kernel_impl.h).
template <typename T>
LS_HD void rope_rotate(const T* x, T* y, int hd, int rd, PairLayout layout, const T* cs, const T* sn) {
  for (int i = rd; i < hd; ++i) y[i] = x[i];
  const int half = rd / 2;
  for (int i = 0; i < half; ++i) {
    int a, b;
    rope_pair_dims(layout, rd, i, &a, &b);
    T xa = x[a], xb = x[b];
    y[a] = xa * cs[i] - xb * sn[i];
    y[b] = xa * sn[i] + xb * cs[i];
  }
}

// Gemma-2's score soft-capping, cap·tanh(s/cap), the one definition the row path,
// the tiled kernel, the probe and the logits share (cap > 0).
template <typename T>
LS_HD T soft_cap(T s, T cap) {
  return cap * std::tanh(s / cap);
}

// cos/sin·attention_factor at a (possibly fractional) position, from θ'_i in double.
template <typename T>
inline void rope_angles_at(const std::vector<double>& inv_freq, double af, double pos, T* cs, T* sn) {
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    double a = pos * inv_freq[i];  // double product before cos/sin (docs/methods.md §7)
    cs[i] = (T)(std::cos(a) * af);
    sn[i] = (T)(std::sin(a) * af);
  }
}

// cos/sin·attention_factor for rows j = 0 … rows-1 of one table (θ' and the
// attention factor of the current forward) at position pos_of(j) (j itself for
// the near band; remap_far_key_pos(j) for far-band keys), extended as n grows and
// rebuilt when the table changes (dynamic methods change it with the length).
template <typename T>
struct RopeAngleCache {
  std::vector<double> inv_freq;
  double attention_factor = 1.0;
  int rows = 0;
  std::vector<T> cos, sin;  // (rows, rd/2)

  void set_table(const std::vector<double>& f, double af) {
    if (f == inv_freq && af == attention_factor) return;
    inv_freq = f;
    attention_factor = af;
    rows = 0;
  }
  void prepare(int n) {
    prepare(n, [](int j) { return (double)j; });
  }
  template <typename PosOf>
  void prepare(int n, PosOf pos_of) {
    const size_t half = inv_freq.size();
    if (n <= rows || half == 0) return;
    cos.resize((size_t)n * half);
    sin.resize((size_t)n * half);
    for (int j = rows; j < n; ++j) rope_angles_at(inv_freq, attention_factor, pos_of(j), &cos[j * half], &sin[j * half]);
    rows = n;
  }
};

}  // namespace ls
