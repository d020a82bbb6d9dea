#!/usr/bin/env bash
# Tokens/s of two LongScope builds side by side: `longscope-cli ppl` on the bundled
# model and document, one window per length, runs interleaved (old, new, old, new …),
# medians and the new/old ratio per method and length. Use it to measure a change
# against the build before it (e.g. a git worktree of the previous commit).
#
# usage: bench/compare_builds.sh OLD_CLI NEW_CLI [LENGTHS] [REPS] [METHODS]
#   LENGTHS  comma-separated window lengths        (default 4096,8192)
#   REPS     runs per build and length              (default 3)
#   METHODS  semicolon-separated method specs       (default "rope;rerope:window=256")
set -euo pipefail
old=$1 new=$2
lengths=${3:-4096,8192} reps=${4:-3} methods=${5:-rope;rerope:window=256}
here=$(cd "$(dirname "$0")/.." && pwd)
doc=$here/resources/documents/tinystories_3.txt
tps() {  # CLI, method, ctx -> tokens/s
  "$1" ppl --text "$doc" --method "$2" --ctx "$3" --windows 1 --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_second"])'
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '%-28s %6s %12s %12s %9s\n' method ctx "old tok/s" "new tok/s" new/old
IFS=, read -ra L <<< "$lengths"
IFS=';' read -ra M <<< "$methods"
for m in "${M[@]}"; do
  for n in "${L[@]}"; do
    o=() w=()
    for ((r = 0; r < reps; r++)); do
      o+=("$(tps "$old" "$m" "$n")")
      w+=("$(tps "$new" "$m" "$n")")
    done
    mo=$(printf '%s\n' "${o[@]}" | median) mw=$(printf '%s\n' "${w[@]}" | median)
    printf '%-28s %6s %12.0f %12.0f %8.2fx\n' "$m" "$n" "$mo" "$mw" "$(awk -v a="$mw" -v b="$mo" 'BEGIN {print a / b}')"
  done
done
