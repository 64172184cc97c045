# Type stubs for the native module (cpp/bindings). The public API is tsnative.Engine.
from typing import Any

class ArgumentInfo:
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def default(self) -> str | None: ...

class MethodSignature:
    @property
    def name(self) -> str: ...
    @property
    def arguments(self) -> list[ArgumentInfo]: ...
    @property
    def returns(self) -> str: ...

class LatencyStats:
    first_ms: float
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    throughput_per_s: float
    samples_ms: list[float]

class Engine:
    def __init__(
        self,
        path: str,
        *,
        device: str = "cpu",
        method: str = "forward",
        outputs_on_device: bool = False,
        threads: int = 0,
        check_inputs: bool = True,
        sha256: str = "",
        max_archive_bytes: int = 0,
        freeze: bool = True,
        onednn_fusion: bool = True,
        warmup_shapes: list[list[list[int]]] = ...,
    ) -> None: ...
    def predict(self, *args: Any, **kwargs: Any) -> Any: ...
    @property
    def optimizations(self) -> list[str]: ...
    def time(
        self, inputs: tuple[Any, ...], *, warmup: int = 10, iterations: int = 100, batch_size: int = 1
    ) -> LatencyStats: ...
    @property
    def path(self) -> str: ...
    @property
    def device(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def outputs_on_device(self) -> bool: ...
    @property
    def load_seconds(self) -> float: ...
    @property
    def signature(self) -> MethodSignature: ...
    @property
    def method_names(self) -> list[str]: ...
    @property
    def metadata_json(self) -> str: ...
    @property
    def parameter_count(self) -> int: ...
