#!/usr/bin/env bash
# The README's fine-tuning figures: scikit-learn's digits written as PNG files, a ResNet-18 (random weights:
# nothing downloads) exported by script and unfrozen, fine-tuned with a 10-class head by ts-train (C++) and by the
# same training in Python (benchmarks/finetune_python.py), head alone and all parameters, one after the other.
# Writes one JSON history per run, load.txt and summary.md to $OUT, by default artifacts/finetune/results/
# (untracked): a rerun never overwrites or deletes the README's tracked figures unless asked to.
#   bash benchmarks/finetune.sh            (after make build; SIZE, EPOCHS, THREADS, REPEATS override the settings)
#   OUT=benchmarks/results/finetune bash benchmarks/finetune.sh     (replace the tracked figures)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-64}        # ResNet-18 at 224x224 costs ~12x more per image; 64 keeps a run at a few minutes on 2 cores
EPOCHS=${EPOCHS:-10}
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-2}   # C++ and Python alternate, REPEATS times each: a shared machine's noise hits both alike
work=artifacts/finetune
out=${OUT:-artifacts/finetune/results}
mkdir -p "$work" "$out"

[ -f "$work/digits/train.txt" ] || .venv/bin/python scripts/make_digits.py "$work/digits"
.venv/bin/tsnative export resnet18 "$work/r18.pt" --mode script --size "$SIZE" --no-optimize
uptime >"$out/load.txt"  # this machine is shared: the load average says how quiet it was
settings=(--classes 10 --epochs "$EPOCHS" --lr 1e-3 --batch 32 --size "$SIZE" --seed 0 --threads "$THREADS")
rm -f "$out"/cpp_*.json "$out"/python_*.json  # a previous run's histories in $OUT: summary.md reads them all
for trainable in head all; do
  for repeat in $(seq "$REPEATS"); do
    .venv/bin/ts-train --model "$work/r18.pt" --train "$work/digits/train.txt" --test "$work/digits/test.txt" \
      "${settings[@]}" --trainable "$trainable" --out "$work/cpp_$trainable.pt" --json \
      >"$out/cpp_${trainable}_$repeat.json"
    .venv/bin/python benchmarks/finetune_python.py --model "$work/r18.pt" --train "$work/digits/train.txt" \
      --test "$work/digits/test.txt" "${settings[@]}" --trainable "$trainable" --out "$work/python_$trainable.pt" \
      --json "$out/python_${trainable}_$repeat.json"
  done
done
uptime >>"$out/load.txt"
.venv/bin/python benchmarks/finetune_summary.py "$out" | tee "$out/summary.md"
