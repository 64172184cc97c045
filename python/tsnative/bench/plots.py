"""The study's figures (matplotlib, written as PNG without a display).

Each path keeps one colour, marker and line style in every figure. Latency points carry p10-p90 error bars, and a
hollow marker flags a point whose samples did not settle (IQR/median above the study's target): read it with care.
Paths that measure the same thing (the Engine from Python and the C++ loop often agree to 1%) are drawn with
different line styles and a slight horizontal offset, so that neither hides the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.patches
import matplotlib.pyplot as plt
import matplotlib.ticker

from .machine import machine_line
from .paths import LABELS

PATH_ORDER = ["eager", "torchscript", "native", "native_cpp", "onnxruntime", "aoti_python", "aoti_native"]
COLORS = {
    "eager": "#1f77b4",  # blue
    "torchscript": "#ff7f0e",  # orange
    "native": "#2ca02c",  # green
    "native_cpp": "#d62728",  # red
    "onnxruntime": "#9467bd",  # purple
    "aoti_python": "#8c564b",  # brown
    "aoti_native": "#e377c2",  # pink
}
MARKERS = {
    "eager": "o",
    "torchscript": "s",
    "native": "^",
    "native_cpp": "v",
    "onnxruntime": "D",
    "aoti_python": "P",
    "aoti_native": "X",
}
LINESTYLES = {
    "eager": "-",
    "torchscript": "-.",
    "native": "--",
    "native_cpp": ":",
    "onnxruntime": "-",
    "aoti_python": "-.",
    "aoti_native": "--",
}
# Horizontal offsets (a factor on the batch size, log axis): ~4% apart, centred on the true batch size.
OFFSETS = {path: 1.04 ** (index - 3) for index, path in enumerate(PATH_ORDER)}
BASELINE_LABELS = {"eager": "Python eager", "torchscript": "Python TorchScript"}


def _groups(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((row["mode"], row["device"]) for row in rows))


def _batch_ticks(axis: Any, rows: list[dict[str, Any]]) -> None:
    batches = sorted({r["batch"] for r in rows})
    axis.set_xticks(batches, labels=[str(b) for b in batches])
    axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _paths_in(rows: list[dict[str, Any]]) -> list[str]:
    present = {r["path"] for r in rows}
    return [path for path in PATH_ORDER if path in present]


def _unstable(row: dict[str, Any], target: float) -> bool:
    return bool(row["spread"] >= target)


def _lines_per_path(
    results: dict[str, Any],
    rows: list[dict[str, Any]],
    value: str,
    ylabel: str,
    log_y: bool,
    file: Path,
    spread: tuple[str, str] | None,
) -> Path:
    """One panel per (mode, device), one line per path of `value` against batch size; written to `file`.
    `spread`: the fields of the error bars' low and high ends (latency: p10 and p90)."""
    target = results["settings"]["target_spread"]
    groups = _groups(rows) or _groups(results["latency"])
    figure, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4.6), squeeze=False)
    any_unstable = any_bars = False
    for axis, (mode, device) in zip(axes[0], groups, strict=True):
        group = [r for r in rows if r["mode"] == mode and r["device"] == device]
        for order, path in enumerate(_paths_in(group)):
            points = sorted((r for r in group if r["path"] == path), key=lambda r: r["batch"])
            xs = [r["batch"] * OFFSETS[path] for r in points]
            ys = [r[value] for r in points]
            style = {"color": COLORS[path], "zorder": 3 + order}
            errors = None
            if spread is not None and all(spread[0] in r for r in points):  # results.json from before p10_ms: none
                low, high = spread
                any_bars = True
                errors = [[r[value] - r[low] for r in points], [r[high] - r[value] for r in points]]
            axis.errorbar(
                xs,
                ys,
                yerr=errors,
                linestyle=LINESTYLES[path],
                linewidth=1.6,
                marker=MARKERS[path],
                markersize=6,
                capsize=2.5,
                elinewidth=1,
                label=LABELS[path],
                **style,
            )
            unstable = [(x, y) for x, y, r in zip(xs, ys, points, strict=True) if _unstable(r, target)]
            if unstable:
                any_unstable = True
                axis.scatter(
                    *zip(*unstable, strict=True),
                    marker=MARKERS[path],
                    s=60,
                    facecolors="white",
                    edgecolors=COLORS[path],
                    linewidths=1.5,
                    zorder=10 + order,
                )
        axis.set(
            xscale="log",
            yscale="log" if log_y else "linear",
            xlabel="batch size",
            ylabel=ylabel,
            title=f"{results['model']} {mode}, {device}",
        )
        _batch_ticks(axis, group)
        axis.grid(True, which="both" if log_y else "major", alpha=0.3)
        if group:
            axis.legend(fontsize=8)
        if value.startswith("speedup"):
            axis.axhline(1.0, color="grey", linewidth=1, linestyle="--", zorder=1)
            # plain ratios (0.8x, 1.2x) rather than powers of ten on the log axis
            ratio = matplotlib.ticker.FuncFormatter(lambda y, _: f"{y:g}x")
            axis.yaxis.set_major_formatter(ratio)
            low, high = axis.get_ylim()
            # within a decade the minor ticks are the only labels; over several they would overlap
            axis.yaxis.set_minor_formatter(ratio if high / low < 10 else matplotlib.ticker.NullFormatter())
    notes = [machine_line(results["machine"])] if "machine" in results else []
    if any_bars:
        notes.append("bars: p10-p90 of the calls")
    if any_unstable:
        notes.append(f"hollow: unsettled (IQR/median >= {target:.0%})")
    if notes:
        figure.text(0.01, 0.01, "\n".join(notes), fontsize=7.5, color="dimgrey")
        figure.tight_layout(rect=(0, 0.03 * (1 + len(notes)), 1, 1))
    else:
        figure.tight_layout()
    figure.savefig(file, dpi=110)
    plt.close(figure)
    return file


def plot_latency(results: dict[str, Any], file: Path) -> Path:
    """Median latency against batch size (p10-p90 bars), one panel per (mode, device), one line per path."""
    return _lines_per_path(
        results,
        results["latency"],
        "median_ms",
        "median latency per call (ms)",
        True,
        file,
        spread=("p10_ms", "p90_ms"),
    )


def speedup_baseline(results: dict[str, Any]) -> str:
    """Python eager when the study had it; a TorchScript file has none, so Python TorchScript."""
    return "eager" if any(r["path"] == "eager" for r in results["latency"]) else "torchscript"


def plot_speedup(results: dict[str, Any], out: Path) -> Path:
    """Each path's speed relative to the baseline (baseline median / path median), per batch size; written to
    out/speedup_vs_eager.png, or out/speedup_vs_torchscript.png for a file."""
    baseline = speedup_baseline(results)
    field = f"speedup_vs_{baseline}"
    rows = [r for r in results["latency"] if r.get(field) is not None and r["path"] != baseline]
    ylabel = f"speed-up vs {BASELINE_LABELS[baseline]} (x)"
    # log scale: 2x faster and 2x slower lie equally far from 1, and one fast path does not flatten the others
    return _lines_per_path(results, rows, field, ylabel, True, out / f"{field}.png", spread=None)


def plot_loads(results: dict[str, Any], file: Path) -> Path:
    """Cold (fresh process) and warm (median of 3) load time of each path, per (mode, device): the path's colour,
    cold solid and warm hatched."""
    rows = results["loads"]
    labels = [f"{r['mode']} {r['device']}\n{LABELS[r['path']]}" for r in rows]
    figure, axis = plt.subplots(figsize=(max(6.0, 0.9 * len(rows)), 4.5))
    positions = range(len(rows))
    colors = [COLORS[r["path"]] for r in rows]
    cold = [r["cold_load_ms"] or 0 for r in rows]
    warm = [r["warm_load_ms"] for r in rows]
    axis.bar([p - 0.2 for p in positions], cold, width=0.4, color=colors, edgecolor="black", linewidth=0.5)
    axis.bar([p + 0.2 for p in positions], warm, width=0.4, color="white", edgecolor=colors, hatch="///", linewidth=1.2)
    axis.set_xticks(list(positions), labels=labels, rotation=60, ha="right", fontsize=7)
    axis.set(ylabel="load time (ms, log scale)", yscale="log", title=f"{results['model']}: load time")
    legend = [
        matplotlib.patches.Patch(facecolor="grey", edgecolor="black", label="cold (new process, median)"),
        matplotlib.patches.Patch(facecolor="white", edgecolor="grey", hatch="///", label="warm (median of 3)"),
    ]
    if any(r["cold_load_ms"] is None for r in rows):
        legend.append(matplotlib.patches.Patch(color="none", label="no cold bar: not measured"))
    axis.legend(handles=legend, fontsize=8)
    if "machine" in results:
        figure.text(0.01, 0.01, machine_line(results["machine"]), fontsize=7.5, color="dimgrey")
        figure.tight_layout(rect=(0, 0.05, 1, 1))
    else:
        figure.tight_layout()
    figure.savefig(file, dpi=110)
    plt.close(figure)
    return file


def plot_all(results: dict[str, Any], out: Path) -> list[Path]:
    return [
        plot_latency(results, out / "latency_vs_batch.png"),
        plot_speedup(results, out),
        plot_loads(results, out / "load_times.png"),
    ]
