// LongLoRA's shifted sparse attention (S2-Attn; [ctx-survey], Chen et al. 2023,
// reference dvlab-research/LongLoRA llama_attn_replace.py): a *training-time*
// attention pattern, not an inference method. The n tokens are cut into groups of
// G; attention runs inside each group (causal). In half of the heads the tokens are
// first rolled by −G/2 (token t sits at (t − G/2) mod n), grouped, attended and
// rolled back, so those groups straddle the unshifted groups' borders and
// information flows between groups. The last rolled group wraps around: it holds
// tokens [n − G/2, n) followed by [0, G/2), so causal order inside it lets the first
// G/2 tokens see the last G/2 — future tokens in the original order.
#pragma once

namespace ls {

enum class S2Visibility : int { Masked = 0, Visible = 1, FutureLeak = 2 };

// Whether query m sees key j (0 ≤ m, j < n) in an S2-Attn head with group size
// `group` (n a multiple of group, group even); shifted: the rolled half of the heads.
inline S2Visibility s2attn_visibility(long long n, long long group, bool shifted, long long m, long long j) {
  if (group <= 0 || n <= 0 || m < 0 || j < 0 || m >= n || j >= n) return S2Visibility::Masked;
  const long long s = shifted ? group / 2 : 0;
  const long long mr = ((m - s) % n + n) % n, jr = ((j - s) % n + n) % n;  // positions in the rolled sequence
  if (mr / group != jr / group || jr > mr) return S2Visibility::Masked;
  return j > m ? S2Visibility::FutureLeak : S2Visibility::Visible;
}

}  // namespace ls
