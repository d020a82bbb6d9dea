#!/usr/bin/env bash
# Run HERE (Debian 12, with apt): downloads the Debian packages the device build
# needs into .device/debs (ignored by git), to be carried to the device machine,
# which has CUDA, CMake and a compiler but no package registry. Then run there:
#   bash .ci/device_checks.sh        (with `carry: [".device"]`)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .device/debs
cd .device/debs
rm -f ./*.deb
apt-get download libsentencepiece0 libsentencepiece-dev libopenblas0-pthread libopenblas-pthread-dev libopenblas-dev \
  libgfortran5 libquadmath0 libpcre2-8-0 libpcre2-dev nlohmann-json3-dev libgtest-dev libgmock-dev googletest \
  pkgconf pkgconf-bin libpkgconf3
du -ch ./*.deb | tail -1
