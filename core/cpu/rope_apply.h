// Applying rotary angles to one head vector, in either pair layout. The angle
// tables come from core/position (no formula here). The attention factor is
// folded into cos and sin, as Hugging Face does, so pass-through dimensions of a
// partial-rotary head stay unscaled.
#pragma once

#include <cmath>
#include <vector>

#include "core/model/model.h"
#include "core/position/tables.h"

namespace ls {

// y = R(angles)·x for the first rd dims of a head of hd dims; cs/sn hold rd/2 values.
template <typename T>
inline void rope_rotate(const T* x, T* y, int hd, int rd, PairLayout layout, const T* cs, const T* sn) {
  for (int i = rd; i < hd; ++i) y[i] = x[i];
  const int half = rd / 2;
  for (int i = 0; i < half; ++i) {
    int a = layout == PairLayout::Interleaved ? 2 * i : i;
    int b = layout == PairLayout::Interleaved ? 2 * i + 1 : i + half;
    T xa = x[a], xb = x[b];
    y[a] = xa * cs[i] - xb * sn[i];
    y[b] = xa * sn[i] + xb * cs[i];
  }
}

// cos/sin·attention_factor at a (possibly fractional) position, from θ'_i in double.
template <typename T>
inline void rope_angles_at(const std::vector<double>& inv_freq, double af, double pos, T* cs, T* sn) {
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    double a = pos * inv_freq[i];  // double product before cos/sin (METHODS.md §7)
    cs[i] = (T)(std::cos(a) * af);
    sn[i] = (T)(std::sin(a) * af);
  }
}

// Angle table for integer positions, built once per (method, geometry, n) and
// extended as n grows for methods whose table does not depend on n.
template <typename T>
struct RopeAngleCache {
  std::string key;
  int rows = 0;
  RopeTable table;
  std::vector<T> cos, sin;  // (rows, rd/2)

  void prepare(const MethodParams& p, const PositionContext& g, int n) {
    std::string k = std::to_string((int)p.method) + "|" + std::to_string(g.rot_dim) + "|" + std::to_string(g.base) +
                    "|" + std::to_string(g.train_len) + "|" + std::to_string(p.rope.factor) + "|" +
                    std::to_string(p.rope.alpha) + "|" + std::to_string(p.rope.beta) + "|" +
                    std::to_string(p.rope.beta_fast) + "|" + std::to_string(p.rope.beta_slow) + "|" +
                    std::to_string(p.rope.attention_factor) + "|" + std::to_string(p.rope.low_freq_factor) + "|" +
                    std::to_string(p.rope.high_freq_factor) + "|" + std::to_string(p.rope.truncate);
    if (method_is_dynamic(p.method)) k += "|n=" + std::to_string(g.cur_len);
    if (k != key) {
      key = k;
      rows = 0;
      table = rope_table(p, g);
    }
    const int half = g.rot_dim / 2;
    if (n <= rows) return;
    cos.resize((size_t)n * half);
    sin.resize((size_t)n * half);
    for (int pos = rows; pos < n; ++pos)
      rope_angles_at(table.inv_freq, table.attention_factor, (double)pos, &cos[(size_t)pos * half],
                     &sin[(size_t)pos * half]);
    rows = n;
  }
};

}  // namespace ls
