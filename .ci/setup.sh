#!/usr/bin/env bash
# LongScope set-up on Debian 12: install what is missing, build, then either
# open the app on the bundled model and document (`app`) or run every test (`test`).
#   bash .ci/setup.sh app     # install, build, open LongScope
#   bash .ci/setup.sh test    # install, build, run the whole test suite (ctest)
# With CI=true (or LONGSCOPE_SANITIZERS=1) `test` also builds an ASan+UBSan copy with
# clang, runs the unit suite there and each fuzz target for LONGSCOPE_FUZZ_SECONDS
# (default 60) before the main suite.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-app}"
build_dir="${LONGSCOPE_BUILD_DIR:-build}"

# Every Debian package the build uses (Qt Charts needs libqt6opengl6-dev, which
# qt6-base-dev only recommends); the test mode adds clang and its sanitizer and
# libFuzzer runtimes.
packages=(build-essential cmake pkg-config git libgtest-dev
          nlohmann-json3-dev libsentencepiece-dev libopenblas-dev libpcre2-dev libutf8proc-dev libcli11-dev
          qt6-base-dev qt6-charts-dev qt6-svg-dev libqt6opengl6-dev libgl-dev xvfb xauth)
test_packages=(clang libclang-rt-14-dev)
wanted=("${packages[@]}")
[ "$mode" = test ] && wanted+=("${test_packages[@]}")
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

jobs="$(nproc 2>/dev/null || echo 2)"
werror=OFF; [ "$mode" = test ] && werror=ON
# LONGSCOPE_APP=ON: a missing Qt part fails the configure instead of skipping the app.
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLONGSCOPE_WERROR="$werror" -DLONGSCOPE_APP=ON
cmake --build "$build_dir" -j "$jobs"

# Sanitizers and fuzzing (CI): the unit suite under ASan+UBSan, then every parser fuzzed.
sanitizer_stage() {
  local asan_dir="${build_dir}-asan" secs="${LONGSCOPE_FUZZ_SECONDS:-60}"
  CC=clang CXX=clang++ cmake -S . -B "$asan_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLONGSCOPE_FUZZ=ON \
    -DLONGSCOPE_WERROR=ON -DLONGSCOPE_APP=OFF -DLONGSCOPE_CUDA=OFF -DLONGSCOPE_BENCH=OFF
  cmake --build "$asan_dir" -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1 ctest --test-dir "$asan_dir" --output-on-failure -j "$jobs" --timeout 900
  rm -rf "$asan_dir/fuzz-corpus"
  "$asan_dir/tests/fuzz/fuzz_seeds" "$asan_dir/fuzz-corpus"
  local t
  for t in gguf safetensors llama2c tokenizer_model tokenizer_json document gguf_vocab method_spec; do
    echo "fuzz_$t: ${secs} s"
    mkdir -p "$asan_dir/fuzz-findings/$t"
    local rc=0
    # tokenizer.json: room for a trimmed real tokenizer and a 5000-level nesting.
    local max_len=65536; [ "$t" = tokenizer_json ] && max_len=262144
    "$asan_dir/tests/fuzz/fuzz_$t" "$asan_dir/fuzz-corpus/$t" -max_total_time="$secs" -rss_limit_mb=2048 \
      -max_len="$max_len" -timeout=20 -print_final_stats=1 -artifact_prefix="$asan_dir/fuzz-findings/$t/" \
      >"$asan_dir/fuzz-findings/$t.log" 2>&1 || rc=$?
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$asan_dir/fuzz-findings/$t.log" || true
    if [ "$rc" -ne 0 ]; then
      tail -n 60 "$asan_dir/fuzz-findings/$t.log" >&2
      echo "fuzz_$t found a crash (inputs in $asan_dir/fuzz-findings/$t)" >&2
      return 1
    fi
  done
}

case "$mode" in
  test)
    if [ "${CI:-}" = true ] || [ "${LONGSCOPE_SANITIZERS:-0}" = 1 ]; then sanitizer_stage; fi
    export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
    ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 600
    ;;
  app)
    exec "$build_dir/app/longscope" "${@:2}"
    ;;
  *) echo "usage: bash .ci/setup.sh app|test" >&2; exit 2 ;;
esac
