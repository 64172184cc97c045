"""The README's fine-tuning table from benchmarks/finetune.sh's JSON histories (C++ and Python, head and all).

python benchmarks/finetune_summary.py benchmarks/results/finetune
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def main() -> None:
    folder = Path(sys.argv[1])
    runs = {(path, mode): json.loads((folder / f"{path}_{mode}.json").read_text())
            for mode in ("head", "all") for path in ("cpp", "python")}  # fmt: skip
    first = runs["cpp", "head"]
    settings = first["settings"]
    print(
        f"ResNet-18 (random weights, scripted, unfrozen), digits: {first['train_images']} train / "
        f"{first['test_images']} test images, size {settings['size']}, batch {settings['batch_size']}, Adam lr "
        f"{settings['lr']:g}, {settings['epochs']} epochs, seed {settings['seed']}, {settings['threads']} threads.\n"
    )
    print("| trainable | path | best test accuracy (epoch) | last train accuracy | median s/epoch | first epoch s "
          "| total s | load s |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (path, mode), run in runs.items():
        history = run["history"]
        seconds = [epoch["seconds"] for epoch in history]
        print(
            f"| {mode} | {'C++ (ts-train)' if path == 'cpp' else 'Python'} | {100 * run['best_test_accuracy']:.1f}% "
            f"({run['best_epoch']}) | {100 * history[-1]['train_accuracy']:.1f}% | {statistics.median(seconds):.2f} "
            f"| {seconds[0]:.2f} | {sum(seconds):.1f} | {run['load_seconds']:.2f} |"
        )
    print()
    for mode in ("head", "all"):
        cpp, python = runs["cpp", mode]["history"], runs["python", mode]["history"]
        gap = max(abs(a["test_loss"] - b["test_loss"]) for a, b in zip(cpp, python, strict=True))
        ratio = statistics.median(e["seconds"] for e in python) / statistics.median(e["seconds"] for e in cpp)
        print(f"- {mode}: max |test loss C++ - Python| over the epochs {gap:.2e}; median epoch Python/C++ {ratio:.2f}")


if __name__ == "__main__":
    main()
