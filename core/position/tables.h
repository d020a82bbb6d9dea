// Host-side tables built from position.h: what the CLI, the views and the
// engine's angle tables consume. No formula here; each entry calls position.h.
#pragma once

#include <optional>
#include <vector>

#include "core/position/position.h"
#include "core/util/status.h"

namespace ls {

struct RopeTable {
  std::vector<double> inv_freq;    // θ'_i, radians/token, d/2 entries
  std::vector<double> wavelength;  // λ'_i = 2π/θ'_i, tokens
  double attention_factor = 1.0;   // multiplies cos and sin
  double logit_multiplier = 1.0;   // attention_factor²
};

RopeTable rope_table(const MethodParams& p, const PositionContext& g);

// N×N effective relative positions: row m, column j; nullopt where j > m or masked.
std::vector<std::vector<std::optional<double>>> relpos_matrix(const MethodParams& p, const PositionContext& g,
                                                              int n);

// Per-head slopes, heads 1 … H (index 0 = head 1).
std::vector<double> alibi_slopes(const MethodParams& p, const PositionContext& g, int heads);

// Geometry validation shared by the CLI and the app (rot_dim even and ≥ 4,
// base > 1, L ≥ 1, n ≥ 1, all finite).
Status validate_context(const PositionContext& g);

}  // namespace ls
