"""The README's fine-tuning table from benchmarks/finetune.sh's JSON histories: C++ (ts-train) and Python, head
and all, each run REPEATS times (files {cpp,python}_{head,all}_{1,2,...}.json).

    python benchmarks/finetune_summary.py benchmarks/results/finetune
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

PATHS = {"cpp": "C++ (ts-train)", "python": "Python"}


def main() -> None:
    folder = Path(sys.argv[1])
    runs = {
        (path, mode): [json.loads(file.read_text()) for file in sorted(folder.glob(f"{path}_{mode}_*.json"))]
        for mode in ("head", "all")
        for path in PATHS
    }
    first = runs["cpp", "head"][0]
    settings = first["settings"]
    print(
        f"ResNet-18 (random weights, scripted, unfrozen), digits: {first['train_images']} train / "
        f"{first['test_images']} test images, size {settings['size']}, batch {settings['batch_size']}, Adam lr "
        f"{settings['lr']:g}, {settings['epochs']} epochs, seed {settings['seed']}, {settings['threads']} threads, "
        f"{len(runs['cpp', 'head'])} runs each (C++ and Python alternating).\n"
    )
    print(
        "| trainable | path | best test accuracy (epoch) | last train accuracy | median s/epoch | min s/epoch "
        "| load s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for (path, mode), repeats in runs.items():
        run = repeats[0]
        seconds = [epoch["seconds"] for repeat in repeats for epoch in repeat["history"]]
        print(
            f"| {mode} | {PATHS[path]} | {100 * run['best_test_accuracy']:.1f}% ({run['best_epoch']}) "
            f"| {100 * run['history'][-1]['train_accuracy']:.1f}% | {statistics.median(seconds):.2f} "
            f"| {min(seconds):.2f} | {statistics.median(r['load_seconds'] for r in repeats):.2f} |"
        )
    print()
    for mode in ("head", "all"):
        cpp, python = runs["cpp", mode], runs["python", mode]
        losses = [[epoch["test_loss"] for epoch in run["history"]] for run in cpp + python]
        gap = max(abs(a - b) for a, b in zip(losses[0], losses[len(cpp)], strict=True))
        same = all(loss == losses[0] for loss in losses[: len(cpp)])
        seconds = {path: [e["seconds"] for r in runs[path, mode] for e in r["history"]] for path in PATHS}
        median = statistics.median(seconds["python"]) / statistics.median(seconds["cpp"])
        fastest = min(seconds["python"]) / min(seconds["cpp"])
        print(
            f"- {mode}: C++ runs give identical histories: {'yes' if same else 'no'}; max |test loss C++ - Python| "
            f"{gap:.1e}; epoch time Python/C++: median {median:.2f}, min {fastest:.2f}"
        )


if __name__ == "__main__":
    main()
