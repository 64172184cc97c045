"""Memory: does the engine hold on to anything? RSS growth over many calls and many load/unload cycles, beside a
deliberately leaking control that the same check must flag (otherwise the check itself proves nothing).

    python benchmarks/memory.py [--calls 10000] [--cycles 200]

Exit status 1 when a tsnative loop grows past its threshold or the leaking control is not caught.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

import tsnative

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def growth(loop: Callable[[int], None], count: int, warmup: int) -> int:
    """RSS after `count` iterations minus RSS after `warmup` ones (allocator pools and caches settle first)."""
    loop(warmup)
    gc.collect()
    before = rss_bytes()
    loop(count)
    gc.collect()
    return rss_bytes() - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--per-call-limit", type=float, default=64.0, help="bytes of growth per call tolerated")
    parser.add_argument("--per-cycle-limit", type=float, default=16_384.0, help="bytes per load/unload cycle")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Tanh())
    path = Path(tempfile.mkdtemp(prefix="tsnative-memory-")) / "tiny.pt"
    tsnative.export(model, torch.randn(8, 64), path)
    engine = tsnative.Engine(path)
    x = torch.randn(8, 64)
    kept: list[torch.Tensor] = []

    def calls(count: int) -> None:
        for _ in range(count):
            engine.predict(x)

    def failing_and_good_calls(count: int) -> None:
        for _ in range(count // 2):
            with contextlib.suppress(TypeError):  # a float64 input, refused by the input check
                engine.predict(x.double())
            engine.predict(x)

    def load_unload(count: int) -> None:
        for _ in range(count):
            tsnative.Engine(path).predict(x)

    def leaking_control(count: int) -> None:
        for _ in range(count):
            kept.append(engine.predict(x))  # the leak: every output is kept alive

    cases = [
        ("predict", calls, args.calls, args.per_call_limit, True),
        ("predict, half failing", failing_and_good_calls, args.calls, args.per_call_limit, True),
        ("load + predict + unload", load_unload, args.cycles, args.per_cycle_limit, True),
        ("leaking control (keeps outputs)", leaking_control, args.calls, args.per_call_limit, False),
    ]
    print(f"RSS growth after warm-up (torch {torch.__version__}, tsnative {tsnative.__version__})")
    print(f"  {'loop':<34} {'iterations':>10} {'growth KiB':>11} {'per iter B':>11} {'limit B':>8}  verdict")
    healthy = True
    for name, loop, count, limit, should_pass in cases:
        grown = growth(loop, count, warmup=max(count // 10, 20))
        per_iteration = grown / count
        flagged = per_iteration > limit
        if should_pass:
            verdict = "LEAK" if flagged else "ok"
        else:
            verdict = "LEAK (caught, as it must be)" if flagged else "NOT CAUGHT: the check is too weak"
        healthy = healthy and flagged != should_pass
        print(f"  {name:<34} {count:>10} {grown / 1024:>11.1f} {per_iteration:>11.1f} {limit:>8.0f}  {verdict}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
