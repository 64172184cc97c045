"""Summaries of latency samples."""

from __future__ import annotations

from typing import Any

import numpy as np


def summarize(samples_ms: list[float], batch: int) -> dict[str, Any]:
    values = np.asarray(samples_ms, dtype=float)
    p10, q25, median, q75, p90, p99 = np.percentile(values, [10, 25, 50, 75, 90, 99])
    return {
        "median_ms": float(median),
        "p10_ms": float(p10),
        "p90_ms": float(p90),
        "p99_ms": float(p99),
        "iqr_ms": float(q75 - q25),
        "mean_ms": float(values.mean()),
        "min_ms": float(values.min()),
        "throughput_per_s": float(batch * 1000.0 / median),
        "samples": len(values),
    }


def relative_spread(samples_ms: list[float]) -> float:
    """IQR / median: the stability measure the rounds stop on."""
    q25, median, q75 = np.percentile(np.asarray(samples_ms, dtype=float), [25, 50, 75])
    return float((q75 - q25) / median) if median > 0 else float("inf")
