#!/usr/bin/env bash
# LongScope against llama.cpp's llama-perplexity on the same GGUF and text: prompt
# throughput (tokens/s over every token of every window, logits included, load
# excluded), runs interleaved (llama.cpp, LongScope, …), medians and the ratio.
#
# usage: bench/llamacpp/compare.sh LLAMA_PERPLEXITY LONGSCOPE_CLI MODEL.gguf [CTXS] [WINDOWS] [REPS] [THREADS]
#   CTXS     comma-separated window lengths   (default 512,2048)
#   WINDOWS  windows per run                   (default 4; the text must hold them)
#   REPS     runs per program and length       (default 3)
#   THREADS  threads for both                  (default: all cores)
# Make a model of a real shape with the bundled vocabulary (tokenises on its own):
#   longscope-cli make-random --shape tinyllama-1.1b --bundled-vocab --format gguf --dtype F16 --out tl.gguf
set -euo pipefail
llama=$1 ls_cli=$2 model=$3
ctxs=${4:-512,2048} windows=${5:-4} reps=${6:-3} threads=${7:-$(nproc)}
here=$(cd "$(dirname "$0")/../.." && pwd)
text=$here/resources/documents/tinystories_3.txt
llama_tps() {  # ctx -> tokens/s of llama-perplexity's prompt evaluation
  "$llama" -m "$model" -f "$text" -c "$1" -b "$1" --chunks "$windows" -t "$threads" 2>&1 |
    sed -n 's/.*prompt eval time.*( *[0-9.]* ms per token, *\([0-9.]*\) tokens per second).*/\1/p'
}
ls_tps() {
  "$ls_cli" ppl --model "$model" --text "$text" --ctx "$1" --windows "$windows" --threads "$threads" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_second"])'
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "model $(basename "$model"), $windows windows per run, $threads threads, medians of $reps"
printf '%6s %16s %16s %18s\n' ctx "llama.cpp tok/s" "LongScope tok/s" "LongScope/llama"
IFS=, read -ra C <<< "$ctxs"
for c in "${C[@]}"; do
  a=() b=()
  for ((r = 0; r < reps; r++)); do
    a+=("$(llama_tps "$c")")
    b+=("$(ls_tps "$c")")
  done
  ma=$(printf '%s\n' "${a[@]}" | median) mb=$(printf '%s\n' "${b[@]}" | median)
  printf '%6s %16.1f %16.1f %17.2fx\n' "$c" "$ma" "$mb" "$(awk -v x="$mb" -v y="$ma" 'BEGIN {print x / y}')"
done
