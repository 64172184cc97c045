# Type stubs for the native module (cpp/bindings). The public API is tsnative.Engine, tsnative.finetune.
from collections.abc import Callable
from typing import Any

import torch

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
        onednn_fusion: str = "auto",
        warmup_shapes: list[list[list[int]]] = ...,
        precision: str = "fp32",
        cuda_graphs: bool = False,
        pinned_transfers: bool = False,
        executor_per_shape: bool = True,
    ) -> None: ...
    def predict(self, *args: Any, **kwargs: Any) -> Any: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    @property
    def optimizations(self) -> list[str]: ...
    @property
    def fusion(self) -> dict[str, Any]: ...
    def time(self, *inputs: Any, warmup: int = 10, iterations: int = 100, batch_size: int = 1) -> LatencyStats: ...
    @property
    def path(self) -> str: ...
    @property
    def device(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def precision(self) -> str: ...
    @property
    def outputs_on_device(self) -> bool: ...
    @property
    def load_seconds(self) -> float: ...
    @property
    def schema(self) -> MethodSignature: ...
    @property
    def method_names(self) -> list[str]: ...
    @property
    def _metadata_json(self) -> str: ...
    @property
    def parameter_count(self) -> int: ...

class EpochStats:
    @property
    def epoch(self) -> int: ...
    @property
    def train_loss(self) -> float: ...
    @property
    def train_accuracy(self) -> float: ...
    @property
    def test_loss(self) -> float: ...
    @property
    def test_accuracy(self) -> float: ...
    @property
    def train_seconds(self) -> float: ...
    @property
    def seconds(self) -> float: ...
    @property
    def best(self) -> bool: ...

class FinetuneResult:
    @property
    def history(self) -> list[EpochStats]: ...
    @property
    def best_epoch(self) -> int: ...
    @property
    def best_test_accuracy(self) -> float: ...
    @property
    def out(self) -> str: ...
    @property
    def class_names(self) -> list[str]: ...
    @property
    def train_images(self) -> int: ...
    @property
    def test_images(self) -> int: ...
    @property
    def head_inputs(self) -> int: ...
    @property
    def trainable_parameters(self) -> int: ...
    @property
    def total_parameters(self) -> int: ...
    @property
    def load_seconds(self) -> float: ...

def finetune(
    model: str,
    train: str,
    test: str,
    *,
    classes: int,
    epochs: int = 5,
    lr: float = 1e-3,
    batch_size: int = 32,
    size: int = 224,
    trainable: str = "head",
    optimizer: str = "adam",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    head: str = "fc",
    seed: int = 0,
    threads: int = 0,
    out: str = "best.pt",
    progress: Callable[[EpochStats], None] | None = None,
) -> FinetuneResult: ...
def load_images(
    source: str, classes: int, size: int, normalize: bool = True
) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str], bool]: ...
