"""Interleaved timing rounds: the one harness behind `tsnative bench`, `benchmarks/speed.py` and `make demo`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

# A path's runner: runs the path `n` times and returns each call's milliseconds.
Runner = Callable[[int], list[float]]


def interleaved_rounds(
    runners: Mapping[str, Runner],
    iters: int,
    max_rounds: int,
    stop: Callable[[dict[str, list[list[float]]]], bool] | None = None,
) -> dict[str, list[list[float]]]:
    """Each path's milliseconds, round by round: in every round each path runs `iters` calls, the order rotating
    from round to round so that machine drift (another process, thermal state) hits all paths alike. Stops after
    `max_rounds`, or earlier once `stop(samples so far)` says so (checked after each round)."""
    names = list(runners)
    samples: dict[str, list[list[float]]] = {name: [] for name in names}
    for index in range(max_rounds):
        first = index % len(names)
        for name in names[first:] + names[:first]:
            samples[name].append(runners[name](iters))
        if stop is not None and stop(samples):
            break
    return samples


def timed(call: Callable[[], object]) -> Runner:
    """A runner for a plain call: its wall time per call, in milliseconds."""

    def run(n: int) -> list[float]:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            call()
            times.append((time.perf_counter() - start) * 1e3)
        return times

    return run
