#!/usr/bin/env bash
# The twins' training recipe (train.py) on a lent GPU machine, which has PyTorch,
# NumPy and SentencePiece but neither the books nor a package registry.
#
# 1. HERE (this repository, Debian's python3-torch, the books in $LONGSCOPE_BOOKS):
#      bash tools/train/device_train.sh kit [--fresh]
#    fills .device/train (ignored by git, 26 MB): the data step's token stream,
#    tokenizer and data.json, the first 2,000,000 characters of train.txt (all that
#    RetrievalText reads of it), and the shipped twins imported as checkpoints to go on
#    from (`train.py import`); with --fresh, no checkpoints (train from step 0).
# 2. ON THE DEVICE (device `run` with carry: [".device/train"]):
#      bash tools/train/device_train.sh run rope|alibi STEPS MINUTES [more train.py options]
#    trains with --device cuda into .device/train, exports the twin, and leaves in $OUT
#    the checkpoint, its metadata, the exported files and the log. One call runs at
#    most 10 minutes: give MINUTES ≤ 8. To go on in a later call, copy $OUT's
#    <arch>.pt back into .device/train first.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=.device/train
case "${1:-}" in
  kit)
    py=/usr/bin/python3
    tmp=tools/train/runs/device_kit
    [ -f "$tmp/train.u16" ] || "$py" tools/train/train.py data ${LONGSCOPE_BOOKS:+--books "$LONGSCOPE_BOOKS"} --out "$tmp" --tokenizer resources/models/twins/tokenizer.model
    rm -rf "$dir" && mkdir -p "$dir"
    cp "$tmp/train.u16" "$tmp/tokenizer.model" "$tmp/data.json" "$dir/"
    "$py" -c "import sys; sys.stdout.write(open('$tmp/train.txt', encoding='utf-8').read(2_000_000))" > "$dir/train.txt"
    if [ "${2:-}" != --fresh ]; then
      "$py" tools/train/train.py import --arch rope --out "$dir" --dest resources/models/twins
      "$py" tools/train/train.py import --arch alibi --out "$dir" --dest resources/models/twins
    fi
    du -sh "$dir"
    ;;
  run)
    arch="$2" steps="$3" minutes="$4"
    shift 4
    out="${OUT:-out}"
    mkdir -p "$out"
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/device.txt"
    PYTHONUNBUFFERED=1 python3 tools/train/train.py train --arch "$arch" --out "$dir" --device cuda \
      --steps "$steps" --minutes "$minutes" --save-every 500 "$@" 2>&1 | tee "$out/train_$arch.log"
    python3 tools/train/train.py export --arch "$arch" --out "$dir" --dest "$out/export"
    cp "$dir/$arch.pt" "$dir/${arch}_metadata.json" "$out/"
    ;;
  *)
    sed -n 2,16p "$0"
    exit 2
    ;;
esac
