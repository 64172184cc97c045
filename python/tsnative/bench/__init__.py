"""The Python-vs-C++ study: `tsnative bench` / `tsnative.bench(...)`."""

from .run import SCHEMA, BenchSettings, bench

__all__ = ["SCHEMA", "BenchSettings", "bench"]
