"""The study's figures (matplotlib, written as PNG without a display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt
import matplotlib.ticker

from .paths import LABELS

MARKERS = {"eager": "o", "torchscript": "s", "native": "^", "native_cpp": "v", "onnxruntime": "D"}


def _groups(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((row["mode"], row["device"]) for row in rows))


def _batch_ticks(axis: Any, rows: list[dict[str, Any]]) -> None:
    batches = sorted({r["batch"] for r in rows})
    axis.set_xticks(batches, labels=[str(b) for b in batches])
    axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _lines_per_path(
    results: dict[str, Any], rows: list[dict[str, Any]], value: str, ylabel: str, log_y: bool, file: Path
) -> Path:
    """One panel per (mode, device), one line per path of `value` against batch size; written to `file`."""
    groups = _groups(rows) or _groups(results["latency"])
    figure, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4.2), squeeze=False)
    for axis, (mode, device) in zip(axes[0], groups, strict=True):
        group = [r for r in rows if r["mode"] == mode and r["device"] == device]
        for path in dict.fromkeys(r["path"] for r in group):
            points = sorted((r["batch"], r[value]) for r in group if r["path"] == path)
            axis.plot(*zip(*points, strict=True), marker=MARKERS.get(path, "."), label=LABELS[path])
        axis.set(
            xscale="log",
            yscale="log" if log_y else "linear",
            xlabel="batch size",
            ylabel=ylabel,
            title=f"{results['model']} {mode}, {device}",
        )
        _batch_ticks(axis, group)
        axis.grid(True, which="both" if log_y else "major", alpha=0.3)
        axis.legend(fontsize=8)
        if value == "speedup_vs_eager":
            axis.axhline(1.0, color="grey", linewidth=1, linestyle="--")
    figure.tight_layout()
    figure.savefig(file, dpi=110)
    plt.close(figure)
    return file


def plot_latency(results: dict[str, Any], file: Path) -> Path:
    """Median latency against batch size, one panel per (mode, device), one line per path (like seed 000)."""
    return _lines_per_path(results, results["latency"], "median_ms", "median latency per call (ms)", True, file)


def plot_speedup(results: dict[str, Any], file: Path) -> Path:
    """Each path's speed relative to Python eager (eager median / path median), per batch size."""
    rows = [r for r in results["latency"] if r["speedup_vs_eager"] is not None and r["path"] != "eager"]
    return _lines_per_path(results, rows, "speedup_vs_eager", "speed-up vs Python eager (x)", False, file)


def plot_loads(results: dict[str, Any], file: Path) -> Path:
    """Cold (fresh process) and warm (median of 3) load time of each path, per (mode, device)."""
    rows = results["loads"]
    labels = [f"{r['mode']} {r['device']}\n{LABELS[r['path']]}" for r in rows]
    figure, axis = plt.subplots(figsize=(max(6.0, 0.9 * len(rows)), 4.5))
    positions = range(len(rows))
    cold = [r["cold_load_ms"] or 0 for r in rows]
    axis.bar([p - 0.2 for p in positions], cold, width=0.4, label="cold (new process, median)")
    axis.bar([p + 0.2 for p in positions], [r["warm_load_ms"] for r in rows], width=0.4, label="warm (median of 3)")
    axis.set_xticks(list(positions), labels=labels, rotation=60, ha="right", fontsize=7)
    axis.set(ylabel="load time (ms, log scale)", yscale="log", title=f"{results['model']}: load time")
    axis.legend()
    figure.tight_layout()
    figure.savefig(file, dpi=110)
    plt.close(figure)
    return file


def plot_all(results: dict[str, Any], out: Path) -> list[Path]:
    return [
        plot_latency(results, out / "latency_vs_batch.png"),
        plot_speedup(results, out / "speedup_vs_eager.png"),
        plot_loads(results, out / "load_times.png"),
    ]
