#!/usr/bin/env bash
# Builds llama.cpp's llama-perplexity from a source tree you already have (this
# script never downloads anything), CPU only, for the machine it runs on.
#
# usage: bench/llamacpp/build.sh LLAMA_CPP_SOURCE_DIR [BUILD_DIR]
#   BUILD_DIR defaults to LLAMA_CPP_SOURCE_DIR/build-longscope-bench
# prints the path of the llama-perplexity binary on its last line.
set -euo pipefail
src=$(cd "$1" && pwd)
build=${2:-$src/build-longscope-bench}
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_CUDA=OFF -DGGML_METAL=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
cmake --build "$build" --target llama-perplexity -j "$(nproc)" >/dev/null
echo "$build/bin/llama-perplexity"
