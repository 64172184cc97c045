"""Differential test: every engine configuration against Python TorchScript on the same file.

Each executor (the default engine, declared shapes with oneDNN fusion kept ("auto") or forced ("on"), fusion tried on
each new call shape, an executor per declared shape, one executor for all, dynamic batching with concurrent callers,
a .pt2 package) runs inputs that hypothesis draws: memory layouts (contiguous, Fortran-ordered and negative-stride
numpy arrays, read-only numpy, a transposed view of the same shape, an expanded batch, channels_last, every other
element, a narrow of a bigger tensor, a batch at a storage offset), batch sizes (declared and not, 1 and many), seeds
and, where the model accepts them, dtypes. The reference is torch.jit.load of the same file under
torch.inference_mode on a contiguous copy of the same values: a model's result does not depend on how its input is
laid out in memory, so every layout must give the contiguous input's result, within float32 rounding (fused kernels
differ by ~1e-6 of each output's scale).

Written to catch (each fixed on 2026-12-04 while it was being written): a declared engine's fused executor, compiled
for contiguous strides, ran Fortran-ordered, transposed, expanded and strided inputs of the verified shape ~0.1-0.3
off; the batcher cut a per-row list output (an entry per row) along each entry's dimension 0 and gave a caller rows
computed from another caller's input; numpy arrays with negative strides were refused (TypeError).

Deterministic: derandomize=True (hypothesis's seed is derived from each test's code), no example database, and every
layout is also an explicit @example, so each is run on every configuration whatever the draws. The .pt2 package
(AOTInductor: a C++ compile, ~10-30 s on 2 cores) is exported once, for the MLP, by a module-scoped fixture.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import tsnative
from conftest import batching, python_reference, save_scripted, save_traced, submit_in_order

LONG_DELAY_US = 60_000_000  # a batch runs when it is full or at close(), never by its delay
RESULT_TIMEOUT_S = 120  # turns a hung call into a failure; never reached by a passing run

CHECKS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BATCHING_CHECKS = settings(CHECKS, max_examples=15)


# --- Models ---------------------------------------------------------------------------------------------------------


class ResidualNet(torch.nn.Module):
    """conv+batchnorm+relu, a residual block (conv-bn-relu-conv-bn + add), pooling, a linear head: oneDNN fuses it."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU())
        self.block = torch.nn.Sequential(
            torch.nn.Conv2d(8, 8, 3, padding=1),
            torch.nn.BatchNorm2d(8),
            torch.nn.ReLU(),
            torch.nn.Conv2d(8, 8, 3, padding=1),
            torch.nn.BatchNorm2d(8),
        )
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.stem(x)
        y = torch.relu(y + self.block(y))
        return self.fc(self.pool(y).flatten(1))


class MLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(12, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16), torch.nn.ReLU(), torch.nn.Linear(16, 5)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PerRowList(torch.nn.Module):
    """A list output with one entry per input row, each of two rows itself: [r, r * 10] for every row r. Weight-free,
    so a scripted file takes any dtype; a batch of two rows has as many list entries as rows."""

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        return [torch.stack([r, r * 10]) for r in x.unbind(0)]


def residual_net() -> ResidualNet:
    torch.manual_seed(0)
    net = ResidualNet().eval()
    with torch.no_grad():
        for layer in net.modules():
            if isinstance(layer, torch.nn.BatchNorm2d):  # non-trivial statistics, so folding them is checked
                layer.running_mean.uniform_(-0.5, 0.5)
                layer.running_var.uniform_(0.5, 2.0)
                layer.weight.uniform_(0.5, 1.5)
                layer.bias.uniform_(-0.3, 0.3)
    return net


def mlp() -> MLP:
    torch.manual_seed(1)
    return MLP().eval()


@dataclass(frozen=True)
class Spec:
    """A model file and what its input looks like."""

    key: str
    shape: tuple[int, ...]  # one row of the input (without the batch dimension)
    declared: tuple[int, ...] = (1, 4)  # batch sizes given as warmup_shapes
    dtypes: tuple[torch.dtype, ...] = (torch.float32,)

    def __repr__(self) -> str:  # hypothesis's falsifying examples name the file by its key
        return self.key

    def declared_shapes(self) -> list[tuple[int, ...]]:
        return [(n, *self.shape) for n in self.declared]


CNN_TRACED = Spec("cnn_traced", (3, 12, 12))
CNN_EXPORTED = Spec("cnn_exported", (3, 12, 12))
MLP_SCRIPTED = Spec("mlp_scripted", (12,))
MLP_EXPORTED = Spec("mlp_exported", (12,))
PER_ROW_SCRIPTED = Spec("per_row_scripted", (6,), dtypes=(torch.float32, torch.float64, torch.int64))
PER_ROW_EXPORTED = Spec("per_row_exported", (6,))
MLP_PT2 = Spec("mlp_pt2", (12,))

BATCHES = (1, 3, 4, 8)  # declared (1, 4) and not (3, 8); one and many


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("differential")
    cnn, net = residual_net(), mlp()
    return {
        "cnn_traced": save_traced(cnn, torch.randn(2, 3, 12, 12), folder / "cnn_traced.pt"),
        "cnn_exported": tsnative.export(cnn, torch.randn(2, 3, 12, 12), folder / "cnn_exported.pt").path,
        "mlp_scripted": save_scripted(net, folder / "mlp_scripted.pt"),
        "mlp_exported": tsnative.export(net, torch.randn(2, 12), folder / "mlp_exported.pt").path,
        "per_row_scripted": save_scripted(PerRowList(), folder / "per_row_scripted.pt"),
        "per_row_exported": tsnative.export(PerRowList(), torch.randn(2, 6), folder / "per_row_exported.pt").path,
    }


@pytest.fixture(scope="module")
def pt2_file(files: dict[str, Path]) -> Path:
    """The MLP (same weights as mlp_scripted) as an AOTInductor package: one compile for the whole module."""
    return tsnative.export(mlp(), torch.randn(2, 12), files["mlp_scripted"].parent / "mlp.pt2").path


@pytest.fixture(scope="module")
def references(files: dict[str, Path]) -> Callable[[str], Callable[..., Any]]:
    """Python TorchScript of each file (the .pt2's reference is the scripted MLP it was compiled from)."""
    cache: dict[str, Callable[..., Any]] = {}

    def get(key: str) -> Callable[..., Any]:
        source = "mlp_scripted" if key == "mlp_pt2" else key
        if source not in cache:
            cache[source] = python_reference(files[source])
        return cache[source]

    return get


# --- Inputs ---------------------------------------------------------------------------------------------------------

LAYOUTS = (
    "contiguous",
    "numpy",
    "numpy_fortran",
    "numpy_readonly",
    "transposed",
    "expanded",
    "channels_last",
    "every_other",
    "narrow",
    "storage_offset",
    "numpy_negative_strides",  # last: a failure of its own (a TypeError before item 11) is reported after the others
)


def applies(layout: str, rank: int) -> bool:
    return layout != "channels_last" or rank == 4


def make_input(layout: str, shape: tuple[int, ...], dtype: torch.dtype, seed: int) -> tuple[Any, torch.Tensor]:
    """An input of `shape` laid out as `layout`, and a contiguous tensor of the same values (the reference's input)."""
    generator = torch.Generator().manual_seed(seed)

    def draw(*size: int) -> torch.Tensor:
        values = torch.randn(size, generator=generator)
        return values.to(dtype) if dtype.is_floating_point else (values * 10).round().to(dtype)

    n = shape[0]
    x: Any
    if layout == "contiguous":
        x = draw(*shape)
    elif layout == "numpy":
        x = draw(*shape).numpy()
    elif layout == "numpy_fortran":
        x = np.asfortranarray(draw(*shape).numpy())
    elif layout == "numpy_negative_strides":
        x = draw(*shape).numpy()[..., ::-1]
    elif layout == "numpy_readonly":
        x = draw(*shape).numpy()
        x.setflags(write=False)
    elif layout == "transposed":  # made with the last two dimensions swapped, then viewed back: the same shape
        x = draw(*shape[:-2], shape[-1], shape[-2]).transpose(-1, -2)
    elif layout == "expanded":  # every row the first one's memory (stride 0)
        x = draw(1, *shape[1:]).expand(*shape)
    elif layout == "channels_last":
        x = draw(*shape).contiguous(memory_format=torch.channels_last)
    elif layout == "every_other":
        x = draw(*shape[:-1], 2 * shape[-1])[..., ::2]
    elif layout == "narrow":
        x = draw(*shape[:-1], shape[-1] + 3).narrow(-1, 1, shape[-1])
    elif layout == "storage_offset":  # contiguous rows in the middle of a bigger batch
        x = draw(n + 2, *shape[1:])[1 : n + 1]
    else:
        raise AssertionError(layout)
    reference = torch.from_numpy(np.array(x, order="C")) if isinstance(x, np.ndarray) else x.contiguous()
    assert tuple(reference.shape) == shape and reference.dtype == dtype
    return x, reference.clone()


def unchanged(x: Any, values: torch.Tensor) -> bool:
    return torch.equal(torch.from_numpy(np.array(x, order="C")) if isinstance(x, np.ndarray) else x, values)


def assert_same(actual: Any, expected: Any, where: str = "output") -> None:
    """The engine's output has the reference's structure, dtypes and shapes, and its values within float32 rounding:
    rtol 1e-4, atol 1e-5 of the output's scale (max |reference|)."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor), f"{where}: expected a tensor, got {type(actual).__name__}"
        assert actual.dtype == expected.dtype, f"{where}: dtype {actual.dtype}, expected {expected.dtype}"
        assert actual.shape == expected.shape, f"{where}: shape {list(actual.shape)}, expected {list(expected.shape)}"
        if not expected.dtype.is_floating_point:
            assert torch.equal(actual, expected), f"{where}: integer values differ"
            return
        scale = float(expected.abs().max()) if expected.numel() else 0.0
        torch.testing.assert_close(
            actual, expected, rtol=1e-4, atol=1e-5 * max(scale, 1e-3), msg=lambda m: f"{where}: {m}"
        )
    elif isinstance(expected, (list, tuple)):
        assert type(actual) is type(expected), f"{where}: {type(actual).__name__}, expected {type(expected).__name__}"
        assert len(actual) == len(expected), f"{where}: {len(actual)} entries, expected {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same(a, e, f"{where}[{i}]")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), f"{where}: keys differ"
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}[{key!r}]")
    else:
        assert actual == expected, f"{where}: {actual!r}, expected {expected!r}"


def every_layout(**arguments: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Each layout as an explicit example (batch 4: declared, and more than one row, so an expanded batch is one)."""

    def decorate(test: Callable[..., Any]) -> Callable[..., Any]:
        for layout in reversed(LAYOUTS):
            test = example(layout=layout, **arguments)(test)
        return test

    return decorate


# --- One caller: each executor against Python TorchScript -----------------------------------------------------------


def configurations(spec: Spec) -> dict[str, dict[str, Any]]:
    declared = spec.declared_shapes()
    return {
        "default": {},
        "declared_auto": {"warmup_shapes": declared, "onednn_fusion": "auto"},  # fusion kept where faster
        "declared_on": {"warmup_shapes": declared, "onednn_fusion": "on"},  # fusion kept wherever verified
        "on_each_new_shape": {"onednn_fusion": "on"},  # tried on each new call shape's first call
        "executor_per_shape": {"warmup_shapes": declared, "executor_per_shape": True, "onednn_fusion": "off"},
        "one_executor": {"warmup_shapes": declared, "executor_per_shape": False},
    }


SINGLE_CASES = [
    pytest.param(spec, name, id=f"{spec.key}-{name}")
    for spec in (CNN_TRACED, CNN_EXPORTED, MLP_SCRIPTED, PER_ROW_SCRIPTED)
    for name in configurations(spec)
] + [pytest.param(MLP_PT2, name, id=f"mlp_pt2-{name}") for name in ("default", "declared")]


@dataclass
class Engines:
    """Engines loaded once per file and configuration for the whole module (loads and fusion trials cost time)."""

    files: dict[str, Path]
    pt2: Callable[[], Path]
    loaded: dict[tuple[str, str], tsnative.Engine] = field(default_factory=dict)

    def __repr__(self) -> str:
        return "engines"

    def get(self, spec: Spec, name: str) -> tsnative.Engine:
        if (spec.key, name) not in self.loaded:
            if spec.key == "mlp_pt2":
                options = {"warmup_shapes": spec.declared_shapes()} if name == "declared" else {}
                self.loaded[spec.key, name] = tsnative.Engine(self.pt2(), **options)
            else:
                self.loaded[spec.key, name] = tsnative.Engine(self.files[spec.key], **configurations(spec)[name])
        return self.loaded[spec.key, name]


@pytest.fixture(scope="module")
def engines(files: dict[str, Path], request: pytest.FixtureRequest) -> Iterator[Engines]:
    cache = Engines(files, lambda: request.getfixturevalue("pt2_file"))
    yield cache
    for engine in cache.loaded.values():
        engine.close()


@pytest.mark.parametrize(("spec", "config"), SINGLE_CASES)
@given(
    layout=st.sampled_from(LAYOUTS),
    batch=st.sampled_from(BATCHES),
    dtype_index=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
@every_layout(batch=4, dtype_index=0, seed=0)
@CHECKS
def test_every_executor_matches_python_torchscript(
    spec: Spec,
    config: str,
    engines: Engines,
    references: Callable[[str], Callable[..., Any]],
    layout: str,
    batch: int,
    dtype_index: int,
    seed: int,
) -> None:
    shape = (batch, *spec.shape)
    assume(applies(layout, len(shape)))
    engine, reference = engines.get(spec, config), references(spec.key)
    x, values = make_input(layout, shape, spec.dtypes[dtype_index % len(spec.dtypes)], seed)
    expected = reference(values)
    # Three calls: "on" tries fusion on a new shape's first call and runs the fused graph from the second; the
    # profiling executor optimises an undeclared shape on its second call.
    for call in range(3):
        assert_same(engine.predict(x), expected, f"call {call + 1}: output")
    assert unchanged(x, values), "the engine changed its input"


def test_the_fused_configurations_run_fused_executors(engines: Engines) -> None:
    # Coverage, not speed: "on" keeps fusion wherever it verified, so the fused kernels above were what ran.
    for spec in (CNN_TRACED, CNN_EXPORTED, MLP_SCRIPTED):
        trials = engines.get(spec, "declared_on").fusion["trials"]
        kept = {trial["shape"] for trial in trials if trial["kept"]}
        assert {str(list(shape)) for shape in spec.declared_shapes()} <= kept, (spec.key, trials)


# --- Dtypes the model does not take ---------------------------------------------------------------------------------


def test_float64_is_refused_as_documented(files: dict[str, Path], pt2_file: Path) -> None:
    x = torch.randn(2, 3, 12, 12, dtype=torch.float64)
    # A file tsnative.export wrote records float32: a float64 tensor or array is refused before the model runs, by
    # every executor (no silent conversion).
    for options in ({}, {"warmup_shapes": CNN_EXPORTED.declared_shapes(), "onednn_fusion": "on"}, {"max_batch": 8}):
        engine = tsnative.Engine(files["cnn_exported"], **options)
        for value in (x, x.numpy()):
            with pytest.raises(TypeError, match=r"input 'x': expected float32 tensor .*got float64 \[2, 3, 12, 12\]"):
                engine.predict(value)
        engine.close()
    with pytest.raises(TypeError, match=r"input 'x': expected float32 tensor .*got float64 \[2, 12\]"):
        tsnative.Engine(pt2_file).predict(torch.randn(2, 12, dtype=torch.float64))
    # A file without metadata runs the model, whose float32 weights refuse it: Python TorchScript raises, and the
    # engine raises the model's error as an InferenceError (one line), as for any error of the model's own.
    with pytest.raises(RuntimeError):
        python_reference(files["cnn_traced"])(x)
    with pytest.raises(tsnative.InferenceError, match="expected scalar type"):
        tsnative.Engine(files["cnn_traced"]).predict(x)
    # A model that takes float64 (weight-free, no metadata) gets it: covered by PER_ROW_SCRIPTED's dtypes above.


# --- Dynamic batching: several callers, each compared with the reference on its own input ---------------------------

BATCHED_SPECS = [pytest.param(spec, id=spec.key) for spec in (CNN_EXPORTED, MLP_EXPORTED, PER_ROW_EXPORTED, MLP_PT2)]


def batched_file(spec: Spec, files: dict[str, Path], request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue("pt2_file") if spec.key == "mlp_pt2" else files[spec.key]


caller = st.tuples(st.integers(1, 3), st.sampled_from(LAYOUTS), st.integers(0, 2**16))


@pytest.mark.parametrize("spec", BATCHED_SPECS)
@given(callers=st.lists(caller, min_size=1, max_size=8))
# One batch of two rows (at close): the per-row model's output is then a list of 2 entries of 2 rows each, which
# looked cut-able by rows, and each caller got one row of its own entry and one of the other caller's.
@example(callers=[(1, "contiguous", 1), (1, "contiguous", 2)])
@example(callers=[(1, "contiguous", 3), (3, "contiguous", 4), (2, "numpy", 5), (2, "transposed", 6)])  # 8: full
@example(callers=[(2, "contiguous", 7)])  # a lone caller of two rows
@BATCHING_CHECKS
def test_batched_callers_each_get_their_own_inputs_result(
    spec: Spec,
    files: dict[str, Path],
    references: Callable[[str], Callable[..., Any]],
    request: pytest.FixtureRequest,
    callers: list[tuple[int, str, int]],
) -> None:
    # The calls are submitted one at a time, each once the engine has taken the previous one, and a batch runs when it
    # holds 8 rows or at close(): the batches are the callers' calls in order, as many as fit in 8 rows.
    callers = [(rows, layout, seed) for rows, layout, seed in callers if applies(layout, 1 + len(spec.shape))]
    assume(callers)
    inputs = [make_input(layout, (rows, *spec.shape), torch.float32, seed) for rows, layout, seed in callers]
    reference = references(spec.key)
    expected = [reference(values) for _, values in inputs]
    engine = tsnative.Engine(batched_file(spec, files, request), max_batch=8, batch_delay_us=LONG_DELAY_US)
    with ThreadPoolExecutor(max_workers=len(inputs)) as pool:
        futures = submit_in_order(pool, engine, [(x,) for x, _ in inputs])
        engine.close()  # runs what is still queued at once
        outputs = [future.result(timeout=RESULT_TIMEOUT_S) for future in futures]
    for i, (output, want, (rows, layout, _)) in enumerate(zip(outputs, expected, callers, strict=True)):
        assert_same(output, want, f"caller {i} ({rows} rows, {layout}) of {len(callers)}: output")


@pytest.mark.parametrize("spec", BATCHED_SPECS)
def test_concurrent_callers_each_get_their_own_inputs_result(
    spec: Spec, files: dict[str, Path], references: Callable[[str], Callable[..., Any]], request: pytest.FixtureRequest
) -> None:
    # Free-running: 8 threads x 24 calls with the default delay, batches formed as the calls arrive (not fixed; the
    # deterministic composition is the test above). Inputs of 1-2 rows in every layout, drawn from a fixed seed.
    threads, calls = 8, 24
    rank = 1 + len(spec.shape)
    layouts = [layout for layout in LAYOUTS if applies(layout, rank)]
    rng = random.Random(0)
    work = [
        [
            (layout, *make_input(layout, (rng.randint(1, 2), *spec.shape), torch.float32, rng.randrange(2**16)))
            for layout in rng.choices(layouts, k=calls)
        ]
        for _ in range(threads)
    ]
    reference = references(spec.key)
    expected = [[reference(values) for _, _, values in inputs] for inputs in work]
    engine = tsnative.Engine(batched_file(spec, files, request), max_batch=8)

    def client(inputs: list[tuple[str, Any, torch.Tensor]]) -> list[Any]:
        results: list[Any] = []
        for _, x, _ in inputs:
            try:
                results.append(engine.predict(x))
            except Exception as error:  # reported with the caller's input below
                results.append(error)
        return results

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(client, inputs) for inputs in work]
        results = [future.result(timeout=RESULT_TIMEOUT_S) for future in futures]
    report = batching(engine)
    engine.close()
    failures: dict[tuple[str, str], list[str]] = {}  # (error type, layout) -> the calls that failed so
    for t, (outputs, wants, inputs) in enumerate(zip(results, expected, work, strict=True)):
        for i, (output, want, (layout, _, values)) in enumerate(zip(outputs, wants, inputs, strict=True)):
            try:
                if isinstance(output, Exception):
                    raise output
                assert_same(output, want)
            except Exception as error:
                message = f"thread {t} call {i} ({list(values.shape)}): {error}".replace("\n", " | ")
                failures.setdefault((type(error).__name__, layout), []).append(message)
    summary = [
        f"{len(failed)} x {kind} with {layout}, e.g. {failed[0][:400]}" for (kind, layout), failed in failures.items()
    ]
    assert not failures, f"of {threads * calls} calls (batching {report}):\n" + "\n".join(summary)
