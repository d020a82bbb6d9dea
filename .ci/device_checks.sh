#!/usr/bin/env bash
# Run ON THE DEVICE MACHINE (issue #11's device checks), from the repository root,
# after .ci/device_kit.sh filled .device/debs here and `.device` was carried:
#   bash .ci/device_checks.sh [quick]
# Unpacks the Debian packages into /tmp/kitroot (never /), builds the engine, the
# CUDA backend and the tests without the app, then writes into $OUT (or out/):
#   gpu_tests.log   ctest -L gpu: CUDA backend vs CPU for every method and architecture, the flash
#                   kernel vs its emulator; new device memory filled with NaN (LONGSCOPE_CUDA_POISON)
#   memcheck.log    compute-sanitizer memcheck on the architectures test and the flash path
#   racecheck.log   compute-sanitizer racecheck on the probed-probabilities test and the flash path
#   bench_gpu.log   bench_gpu (skipped with `quick`)
#   sdpa.log        bench/attention_vs_sdpa.py: the flash kernel beside PyTorch SDPA (where torch imports)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-out}"
mkdir -p "$out"
kit=/tmp/kitroot
mkdir -p "$kit"
for f in .device/debs/*.deb; do dpkg -x "$f" "$kit"; done
lib="$kit/usr/lib/x86_64-linux-gnu"
export PATH="$kit/usr/bin:$PATH"
export LD_LIBRARY_PATH="$lib:$lib/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PKG_CONFIG_SYSROOT_DIR="$kit"
export PKG_CONFIG_LIBDIR="$lib/pkgconfig:$lib/openblas-pthread/pkgconfig:$kit/usr/share/pkgconfig"
jobs=$(nproc)
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  nvcc --version | tail -2
  cmake -S . -B build-device -DCMAKE_BUILD_TYPE=Release -DLONGSCOPE_APP=OFF -DLONGSCOPE_CUDA=ON \
    -DCMAKE_PREFIX_PATH="$kit/usr" -DCMAKE_CUDA_ARCHITECTURES=90 &&
  cmake --build build-device -j"$jobs" --target test_gpu_backend test_gpu_position test_engine longscope-cli \
    longscope_cuda bench_gpu
} 2>&1 | tee "$out/build.log"
(cd build-device && LONGSCOPE_CUDA_POISON=1 ctest -L gpu --output-on-failure) 2>&1 | tee "$out/gpu_tests.log"
(cd build-device && ctest -R BackendSeam --output-on-failure) 2>&1 | tee -a "$out/gpu_tests.log"
for tool in memcheck racecheck; do
  first=CudaBackend.ArchitecturesMatchCpu
  [ "$tool" = racecheck ] && first=CudaBackend.ProbedProbabilitiesMatchCpu
  for t in "$first" CudaBackend.FlashPathMatchesCpu; do
    echo "== $tool $t"
    compute-sanitizer --tool "$tool" build-device/tests/test_gpu_backend --gtest_filter="$t" 2>&1 | tail -40
  done > "$out/$tool.log"
done
if [ "${1:-}" != quick ]; then
  build-device/bench/bench_gpu --lengths 1024,4096,8192 --reps 3 2>&1 | tee "$out/bench_gpu.log"
  if python3 -c "import torch" 2>/dev/null; then
    python3 bench/attention_vs_sdpa.py --bench build-device/bench/bench_gpu --json "$out/sdpa.json" 2>&1 | tee "$out/sdpa.log"
  fi
fi
