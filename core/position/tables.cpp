#include "core/position/tables.h"

#include <cmath>
#include <string>

namespace ls {

RopeTable rope_table(const MethodParams& p, const PositionContext& g) {
  RopeTable t;
  const int half = g.rot_dim / 2;
  t.inv_freq.resize(half);
  t.wavelength.resize(half);
  for (int i = 0; i < half; ++i) {
    t.inv_freq[i] = rope_inv_freq(p, g, i);
    t.wavelength[i] = rope_wavelength(t.inv_freq[i]);
  }
  t.attention_factor = rope_attention_factor(p, g);
  t.logit_multiplier = t.attention_factor * t.attention_factor;
  return t;
}

std::vector<std::vector<std::optional<double>>> relpos_matrix(const MethodParams& p, const PositionContext& g,
                                                              int n) {
  std::vector<std::vector<std::optional<double>>> out(n, std::vector<std::optional<double>>(n));
  for (int m = 0; m < n; ++m)
    for (int j = 0; j <= m; ++j)
      if (position_visible(p, m, j)) out[m][j] = relpos(p, g, m, j);
  return out;
}

std::vector<double> alibi_slopes(const MethodParams& p, const PositionContext& g, int heads) {
  std::vector<double> s(heads);
  for (int h = 1; h <= heads; ++h) s[h - 1] = alibi_slope(p, g, h, heads);
  return s;
}

Status validate_context(const PositionContext& g) {
  if (g.rot_dim < 4 || g.rot_dim % 2 != 0 || g.rot_dim > 65536)
    return make_error("rotary dimension must be an even number in [4, 65536] (got " + std::to_string(g.rot_dim) + ")");
  if (!std::isfinite(g.base) || !(g.base > 1.0) || g.base > 1e12)
    return make_error("rope base must be a number in (1, 1e12] (got " + std::to_string(g.base) + ")");
  if (!std::isfinite(g.train_len) || g.train_len < 1 || g.train_len > (double)(1LL << 31))
    return make_error("training length L must be a whole number of tokens in [1, 2^31] (got " +
                      std::to_string(g.train_len) + ")");
  if (!std::isfinite(g.cur_len) || g.cur_len < 1 || g.cur_len > (double)(1LL << 31))
    return make_error("current length n must be a whole number of tokens in [1, 2^31] (got " +
                      std::to_string(g.cur_len) + ")");
  return Status::Ok();
}

}  // namespace ls
