#!/usr/bin/env bash
# The app's launch timings of two builds side by side: the headless app (offscreen)
# from start to a written screenshot, runs interleaved (old, new, old, new …), medians
# and the new/old ratio. A screenshot waits for everything its view needs:
#   story 4096   launch → the Story complete at n = 4096 (NLL of four methods and the sweep)
#   story 8192   the same at n = 8192
#   attention    launch → the Attention view of layer 1 at n = 8192
# In-process timings (an n change, a layer switch, a head switch) are bench_app's.
#
# usage: bench/app_timings.sh OLD_APP NEW_APP [REPS]
set -euo pipefail
old=$1 new=$2 reps=${3:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export QT_QPA_PLATFORM=offscreen
run() {  # APP, args… -> seconds
  local app=$1
  shift
  local t0 t1
  t0=$(date +%s.%N)
  "$app" --screenshot "$out/shot.png" "$@" > /dev/null 2>&1
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '%-12s %10s %10s %9s\n' case "old s" "new s" new/old
for c in "story 4096" "story 8192" "attention"; do
  case $c in
    "story 4096") args=(--view window:story --size 1280x720 --length 4096) ;;
    "story 8192") args=(--view window:story --size 1280x720 --length 8192) ;;
    attention) args=(--view attention --length 8192 --layer 1) ;;
  esac
  o=() w=()
  for ((r = 0; r < reps; r++)); do
    o+=("$(run "$old" "${args[@]}")")
    w+=("$(run "$new" "${args[@]}")")
  done
  mo=$(printf '%s\n' "${o[@]}" | median) mw=$(printf '%s\n' "${w[@]}" | median)
  printf '%-12s %10.2f %10.2f %8.2fx\n' "$c" "$mo" "$mw" "$(awk -v a="$mw" -v b="$mo" 'BEGIN {print a / b}')"
done
