#!/usr/bin/env bash
# LongScope set-up on Debian 12: install what is missing, build, then either
# open the app on the bundled model and document (`app`) or run every test (`test`).
#   bash .ci/setup.sh app     # install, build, open LongScope
#   bash .ci/setup.sh test    # install, build, run the whole test suite (ctest)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-app}"
build_dir="${LONGSCOPE_BUILD_DIR:-build}"

packages=(build-essential cmake pkg-config git libgtest-dev libgmock-dev libbenchmark-dev
          nlohmann-json3-dev libsentencepiece-dev libopenblas-dev
          qt6-base-dev qt6-charts-dev libqt6svg6-dev libqt6opengl6-dev libgl-dev xvfb xauth)
missing=()
for p in "${packages[@]}"; do
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
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLONGSCOPE_WERROR="$werror"
cmake --build "$build_dir" -j "$jobs"

case "$mode" in
  test)
    export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
    ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 600
    ;;
  app)
    if [ -x "$build_dir/app/longscope" ]; then
      exec "$build_dir/app/longscope" "${@:2}"
    else
      # Until the desktop app is built, show the method tables of the bundled model's geometry.
      "$build_dir/cli/longscope-cli" methods
      for m in rope "linear:factor=4" "ntk:alpha=4" "yarn:factor=4"; do
        "$build_dir/cli/longscope-cli" rope-table --method "$m" --head-dim 8 --base 10000 --train-len 512 --seq-len 2048
      done
    fi
    ;;
  *) echo "usage: bash .ci/setup.sh app|test" >&2; exit 2 ;;
esac
