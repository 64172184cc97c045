#!/usr/bin/env bash
# Reproduces the README's study: ResNet-18 (random weights), exported by script and by trace, every path
# (Python eager, Python TorchScript, tsnative.Engine from Python, the C++ loop, ONNX Runtime), batch 1 to 32,
# on the CPU and, where CUDA is available, on the GPU. Writes json, csv and plots to $OUT, by default
# artifacts/study/resnet18/ (untracked): a rerun never overwrites the README's tracked results unless asked to.
#   make bench            (or: bash benchmarks/study.sh [more tsnative bench options], after make build)
#   make bench OUT=benchmarks/results/resnet18      (replace the tracked results the README quotes)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-artifacts/study/resnet18}
devices=cpu
if .venv/bin/python -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  devices=cpu,cuda
fi
.venv/bin/tsnative bench resnet18 --mode script,trace --device "$devices" --batch 1,2,4,8,16,32 \
  --out "$OUT" "$@"
