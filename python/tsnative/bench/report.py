"""The study's outputs: a progress bar while it runs, a table, results.json, results.csv and the plots."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import TracebackType
from typing import Any

import rich.console
import rich.progress
import rich.table


class Progress:
    """A rich progress bar over (mode, device, batch) configurations on a terminal's stderr; silent when disabled
    or when stderr is a file or pipe (a bar cannot animate there: rich would print its last state, noise in a
    log and in front of an error line)."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        console = rich.console.Console(stderr=True)
        self._bar = rich.progress.Progress(
            rich.progress.TextColumn("{task.description}"),
            rich.progress.BarColumn(),
            rich.progress.MofNCompleteColumn(),
            rich.progress.TimeElapsedColumn(),
            console=console,
            disable=not enabled or not console.is_terminal,
        )
        self._task = self._bar.add_task("preparing", total=total)

    def __enter__(self) -> Progress:
        self._bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None:
            # An error or Ctrl-C: the bar is erased (and not printed again into a file), so the command's one line
            # saying what happened stands alone.
            self._bar.live.transient = True
        self._bar.stop()

    def describe(self, text: str) -> None:
        self._bar.update(self._task, description=text)

    def advance(self) -> None:
        self._bar.advance(self._task)


def print_table(results: dict[str, Any]) -> None:
    from .machine import machine_line
    from .paths import SHORT_LABELS
    from .plots import speedup_baseline

    baseline = speedup_baseline(results)  # a TorchScript file has no eager path

    console = rich.console.Console(width=None if rich.console.Console().is_terminal else 120)
    if "machine" in results:
        console.print(f"machine: {machine_line(results['machine'])}")
    latency = rich.table.Table(title=f"{results['model']}: latency per call ({results['settings']['threads']} threads)")
    for column in (
        "mode",
        "device",
        "batch",
        "path",
        "median ms",
        "p90 ms",
        "p99 ms",
        "IQR/med",
        "items/s",
        "vs eager" if baseline == "eager" else "vs TorchScript",
    ):
        latency.add_column(column, justify="left" if column in ("mode", "device", "path") else "right")
    for row in results["latency"]:
        speedup = f"{row[f'speedup_vs_{baseline}']:.2f}x" if row.get(f"speedup_vs_{baseline}") else "-"
        spread = f"{row['spread']:.1%}" + ("" if row["stable"] else " *")
        cells = [row["mode"], row["device"], str(row["batch"]), SHORT_LABELS[row["path"]], f"{row['median_ms']:.2f}"]
        cells += [f"{row['p90_ms']:.2f}", f"{row['p99_ms']:.2f}", spread, f"{row['throughput_per_s']:.1f}", speedup]
        latency.add_row(*cells)
    console.print(latency)
    if any(not row["stable"] for row in results["latency"]):
        console.print(f"* IQR/median stayed above {results['settings']['target_spread']:.0%} within the time budget")

    loads = rich.table.Table(title="load and first inference (ms)")
    for column in ("mode", "device", "path", "cold load", "warm load", "first inference"):
        loads.add_column(column, justify="left" if column in ("mode", "device", "path") else "right")
    for row in results["loads"]:
        cold = f"{row['cold_load_ms']:.1f}" if row["cold_load_ms"] is not None else "-"
        loads.add_row(
            row["mode"],
            row["device"],
            SHORT_LABELS[row["path"]],
            cold,
            f"{row['warm_load_ms']:.1f}",
            f"{row['first_inference_ms']:.1f}",
        )
    console.print(loads)
    sizes = ", ".join(f"{kind} {size / 1e6:.1f} MB" for kind, size in results["files"].items())
    console.print(f"files: {sizes}")
    for note in results["notes"]:
        console.print(f"note: {note}")


def write_outputs(results: dict[str, Any], out: Path) -> list[Path]:
    """results.json, results.csv and the PNG plots in `out`; returns the files written."""
    from .plots import plot_all

    out.mkdir(parents=True, exist_ok=True)  # created only now: a study that failed earlier leaves no folder
    written = [out / "results.json", out / "results.csv"]
    written[0].write_text(json.dumps(results, indent=2))
    with written[1].open("w", newline="") as file:
        # One row per configuration and path; the raw samples are in results.json.
        skip = {"label", "samples_ms"}
        fields = [key for key in results["latency"][0] if key not in skip] if results["latency"] else []
        writer = csv.DictWriter(file, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(results["latency"])
    return written + plot_all(results, out)
