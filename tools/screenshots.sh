#!/usr/bin/env bash
# The README's screenshots, made by the headless app (offscreen) from the bundled models
# and documents: bash tools/screenshots.sh [BUILD_DIR] (default build).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
app=${1:-$here/build}/app/longscope
out=$here/resources/screenshots
res=$here/resources
export QT_QPA_PLATFORM=offscreen
shot() { "$app" --screenshot "$out/$1" "${@:2}" > /dev/null; echo "wrote $out/$1"; }
shot window.png --view window:story --size 1920x1080 --length 4096
shot story.png --view story --length 4096
shot frequencies.png --view frequencies --length 4096
shot relpos.png --view relpos --length 1024 --methods "rerope:window={L/2},logn=1;rope"
shot attention.png --view attention --length 1024 --layer 1 --head 2
shot perplexity.png --view perplexity --length 1024
shot sweep.png --view sweep
shot s2attn.png --view s2attn
shot retrieval.png --view retrieval --model "$res/models/twins/rope_twin.gguf" --document "$res/documents/heldout_books.txt" \
  --methods "rope;rerope:window={L/2},logn=1" --retrieval-lengths 256,512,1024,2048
shot retrieval_alibi.png --view retrieval --model "$res/models/twins/alibi_twin" --document "$res/documents/heldout_books.txt" \
  --methods "alibi;ntk-alibi:a=8" --retrieval-lengths 256,512,1024,2048
