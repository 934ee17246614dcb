#!/usr/bin/env bash
# The study's GPU plan: as much of the multi ×4 plan as fits in a few minutes on one lent GPU,
# with the longer `gpu` budget (benchmarks/study/configs.py), writing the same records (their
# machine names the card). Never part of the tests.
#
#   bash benchmarks/study/gpu.sh prepare   # here, on the CPU machine: wheels and data to carry
#   bash benchmarks/study/gpu.sh run       # there (device tool, carry .carry), from the
#                                          # repository root; records land in $OUT/results
#   bash benchmarks/study/gpu.sh collect DIR   # here: copy the new records of DIR into the repo
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
prepare)
  # The GPU image has torch, lightning, timm and onnxruntime; the study's imports need no more
  # (rasterio is only imported for GeoTIFFs). LEVIR-CD and the label-free imagery travel
  # (.carry stays under the tool's 64 MiB); SZTAKI does not, so its phase is skipped there.
  grep -qx '/.carry/' .git/info/exclude || echo /.carry/ >> .git/info/exclude
  rm -rf .carry && mkdir -p .carry/shared
  data=${HICD_SHARED_DATA:-../shared/data}
  mkdir -p .carry/shared/data .carry/shared/weights
  for set in levir-cd-1024 levir-cd-1024-extra levir-cd-256 dsifn-256 egy-bcd-256 \
             sv-cd-256; do
    cp -rL "$data/$set" .carry/shared/data/
  done
  cp "${HICD_SHARED_WEIGHTS:-$data/../weights}/mobilenet_v2-b0353104.pth" .carry/shared/weights/
  du -sh .carry
  ;;
run)
  export PYTHONPATH=$PWD/src:$PWD PYTHONUNBUFFERED=1
  export HICD_SHARED_DATA=$PWD/.carry/shared/data HICD_SHARED_WEIGHTS=$PWD/.carry/shared/weights
  export HICD_CACHE_DIR=/tmp/hicd-cache
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no GPU here"
  mkdir -p "$OUT/results"
  if [ -d benchmarks/results/study ]; then cp -r benchmarks/results/study/. "$OUT/results/"; fi
  "${PYTHON:-python3}" -m benchmarks.study --run --budget gpu --minutes "${MINUTES:-7}" --threads 8 \
    --results "$OUT/results" --work /tmp/hicd-study 2>&1 | tee "$OUT/gpu-run.log"
  ;;
collect)
  # copy the records that are new in DIR (the run's $OUT/results) into benchmarks/results/study
  (cd "$2" && find . -name '*.json') | while read -r record; do
    [ -e "benchmarks/results/study/$record" ] || install -D -m 644 "$2/$record" "benchmarks/results/study/$record"
  done
  ;;
*)
  echo "usage: bash benchmarks/study/gpu.sh prepare | run | collect DIR" >&2
  exit 2
  ;;
esac
