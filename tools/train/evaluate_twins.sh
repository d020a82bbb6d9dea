#!/usr/bin/env bash
# Evidence for the twins (resources/models/README.md): longscope-cli sweep on the
# held-out books, and mean attention distance per head at 4L for ALiBi vs NTK-ALiBi.
# usage: bash tools/train/evaluate_twins.sh [OUT_DIR] [rope|alibi|both]   (on the shipped twins in resources/models/twins)
set -euo pipefail
out="${1:-/tmp/twins_eval}"
which="${2:-both}"
cli="${LONGSCOPE_CLI:-build/cli/longscope-cli}"
mkdir -p "$out"
doc="resources/documents/heldout_books.txt"   # the two held-out books, one part each
L=256
rope_methods="rope;linear:factor=4;ntk:alpha=4;dynamic-ntk:alpha=1;yarn:factor=4;rerope:window=128;leaky-rerope:window=128,k=16;self-extend:window=64,group=4;rerope:window=128,logn=1"
alibi_methods="alibi;alibi-linear:a=4;ntk-alibi:a=4;dynamic-ntk-alibi:a0=1"
for len in $L $((4 * L)) $((16 * L)); do
  windows=$(( len >= 4096 ? 3 : len >= 1024 ? 8 : 24 ))
  [ "$which" = alibi ] || "$cli" sweep --model resources/models/twins/rope_twin.gguf --text "$doc" --methods "$rope_methods" \
    --lengths "$len" --buckets 0,$L,$((4 * L)),$((16 * L)) --windows "$windows" --json > "$out/rope_$len.json"
  [ "$which" = rope ] || "$cli" sweep --model resources/models/twins/alibi_twin --text "$doc" --methods "$alibi_methods" \
    --lengths "$len" --buckets 0,$L,$((4 * L)),$((16 * L)) --windows "$windows" --json > "$out/alibi_$len.json"
done
[ "$which" = rope ] || for m in alibi ntk-alibi:a=4; do
  for layer in 0 1 2 3; do
    "$cli" attention --model resources/models/twins/alibi_twin --text "$doc" --method "$m" --ctx $((4 * L)) \
      --layer "$layer" --head 0 --pool 8 --json > "$out/attn_${m%%:*}_$layer.json"
  done
done
echo "wrote $out"
