"""Hostile and malformed files, bad inputs between good ones, many threads: clean errors, no crash, no mixing."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Tuple

import pytest
import torch

import tsnative
from conftest import Recurrent, run_tool

REPO = Path(__file__).resolve().parents[1]
LOAD_IN_SUBPROCESS = """
import sys, tsnative
try:
    tsnative.Engine(sys.argv[1])
except (tsnative.ModelLoadError, FileNotFoundError) as error:
    print(type(error).__name__, error)
    sys.exit(3)
print("loaded")
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("corpus")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_corpus.py"), str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    files = sorted(folder.iterdir())
    assert len(files) >= 15
    return files


def test_every_corpus_file_is_a_clean_python_error(corpus: list[Path]) -> None:
    for path in corpus:
        # A subprocess, so that a crash (a signal, a negative status) is a failure rather than the end of pytest.
        result = subprocess.run(
            [sys.executable, "-c", LOAD_IN_SUBPROCESS, str(path)], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 3, f"{path.name}: status {result.returncode}\n{result.stdout}{result.stderr}"
        assert result.stdout.startswith("ModelLoadError Cannot load"), path.name
        assert "Exception raised from" not in result.stdout, path.name


def test_every_corpus_file_is_a_clean_ts_infer_exit_1(corpus: list[Path]) -> None:
    for path in corpus:
        result = run_tool("ts-infer", path, timeout=120)
        assert result.returncode == 1, f"{path.name}: status {result.returncode}\n{result.stderr}"
        assert result.stderr.startswith("Error loading model: "), path.name
        assert len(result.stderr.strip().splitlines()) == 1, f"{path.name}: {result.stderr}"


def test_declared_sizes_beyond_the_file_and_the_budget(corpus: list[Path], recurrent_file: Path) -> None:
    bomb = next(path for path in corpus if path.name == "zip_bomb.pt")
    declared = r"record 'data/0' declares 268\.4 MB, more than the 261\d+ bytes file can hold"
    with pytest.raises(tsnative.ModelLoadError, match=declared):
        tsnative.Engine(bomb)
    # The file itself is larger than the budget: refused before it is read.
    with pytest.raises(tsnative.ModelLoadError, match=r"more than the memory budget of 1000 bytes"):
        tsnative.Engine(recurrent_file, max_archive_bytes=1000)
    assert tsnative.Engine(recurrent_file, max_archive_bytes=10**9).predict(torch.ones(1, 4), torch.ones(1, 4))


def test_pickle_arguments_beyond_their_record_are_refused(corpus: list[Path]) -> None:
    # PyTorch #185443: LibTorch's unpickler would allocate what these ask for (4 GB; a 64 GB memo table).
    by_name = {path.name: path for path in corpus}
    with pytest.raises(tsnative.ModelLoadError, match=r"'data.pkl' at byte 2: declares 4194304000 bytes of data"):
        tsnative.Engine(by_name["pickle_huge_string.pt"])
    with pytest.raises(tsnative.ModelLoadError, match=r"'data.pkl' at byte 3: memo index 4026531840 in a record"):
        tsnative.Engine(by_name["pickle_huge_memo.pt"])


def test_sha256_pin(recurrent_file: Path, tmp_path: Path) -> None:
    digest = hashlib.sha256(recurrent_file.read_bytes()).hexdigest()
    assert tsnative.Engine(recurrent_file, sha256=digest.upper()).predict(torch.ones(1, 4), torch.ones(1, 4))
    with pytest.raises(tsnative.ModelLoadError, match=r"sha256 mismatch: expected 0000.*refused before parsing"):
        tsnative.Engine(recurrent_file, sha256="0" * 64)
    refused = run_tool("ts-infer", recurrent_file, "--sha256", "ab" * 32, timeout=120)
    assert refused.returncode == 1 and "sha256 mismatch" in refused.stderr


@pytest.fixture(scope="module")
def exported_recurrent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("hardening") / "recurrent.pt"
    tsnative.export(Recurrent(), (torch.randn(2, 4), torch.randn(2, 4)), path)
    return path


def test_inputs_checked_against_the_export_metadata(exported_recurrent: Path) -> None:
    engine = tsnative.Engine(exported_recurrent)
    good = torch.randn(3, 4)
    with pytest.raises(TypeError, match=r"input 'x': expected float32 tensor of shape \[N, 4\], got float64 \[3, 4\]"):
        engine.predict(good.double(), good)
    with pytest.raises(ValueError, match=r"input 'h': expected float32 tensor of shape \[N, 4\], got float32 \[3, 5\]"):
        engine.predict(good, torch.randn(3, 5))
    with pytest.raises(ValueError, match=r"got float32 \[4\]"):
        engine.predict(torch.randn(4), good)
    unchecked = tsnative.Engine(exported_recurrent, check_inputs=False)
    with pytest.raises(tsnative.InferenceError):  # now the model itself meets the wrong shape
        unchecked.predict(good, torch.randn(3, 5))


class PairAndMapping(torch.nn.Module):
    def forward(self, pair: Tuple[torch.Tensor, torch.Tensor], mapping: Dict[str, torch.Tensor]) -> torch.Tensor:
        return pair[0] + pair[1] * mapping["scale"]


def test_tensors_inside_tuples_and_dicts_are_checked_by_path(tmp_path: Path) -> None:
    path = tmp_path / "nested.pt"
    good = torch.randn(2, 4)
    tsnative.export(PairAndMapping(), ((good, good), {"scale": good}), path, mode="script")
    engine = tsnative.Engine(path)
    with pytest.raises(
        ValueError,
        match=r"input 'pair\[1\]': expected float32 tensor of rank 2, got float32 \[2\] \(as recorded at export; the "
        r"check_inputs option turns this check off",
    ):
        engine.predict((good, torch.randn(2)), {"scale": good})
    with pytest.raises(TypeError, match=r"input 'mapping\[\"scale\"\]': expected float32 tensor of rank 2"):
        engine.predict((good, good), {"scale": good.double()})
    torch.testing.assert_close(engine.predict((good, good), {"scale": good}), good + good * good)
    # Inside a structure an item's sizes were the example's (sequence lengths vary): dtype and rank are checked.
    longer = torch.randn(2, 7)
    torch.testing.assert_close(engine.predict((longer, longer), {"scale": longer}), longer + longer * longer)


def test_non_contiguous_and_empty_inputs(exported_recurrent: Path) -> None:
    engine = tsnative.Engine(exported_recurrent)
    h = torch.randn(4, 4)
    strided = torch.randn(4, 8)[:, ::2]
    assert not strided.is_contiguous()
    torch.testing.assert_close(engine.predict(strided, h)[0], engine.predict(strided.contiguous(), h)[0])
    empty_h, _ = engine.predict(torch.randn(0, 4), torch.randn(0, 4))
    assert empty_h.shape == (0, 4)


# Bitwise equality holds per input shape once the profiling executor has optimised the graph for it: with oneDNN
# fusion (the default) that takes the shape's first calls, hence the warm-up; without fusion, from the first call.
FUSION_SETTINGS = [
    pytest.param({"onednn_fusion": False}, id="unfused"),
    pytest.param({"onednn_fusion": True, "warmup": True}, id="fused-warmed-up"),
]


def _engine(path: Path, settings: dict, shapes: list[tuple[int, int]]) -> tsnative.Engine:
    warmup = [(shape, shape) for shape in shapes] if settings.get("warmup") else None
    return tsnative.Engine(path, onednn_fusion=settings["onednn_fusion"], warmup_shapes=warmup)


@pytest.mark.parametrize("settings", FUSION_SETTINGS)
def test_500_alternating_bad_and_good_calls(exported_recurrent: Path, settings: dict) -> None:
    engine = _engine(exported_recurrent, settings, [(2, 4)])
    x, h = torch.randn(2, 4), torch.randn(2, 4)
    reference = engine.predict(x, h)[0].clone()
    bad_calls = [
        lambda: engine.predict(x),
        lambda: engine.predict(x, "h"),
        lambda: engine.predict(x.double(), h),
        lambda: engine.predict(x, torch.randn(2, 5)),
        lambda: engine.predict(x, h, x),
    ]
    for index in range(250):
        with pytest.raises((TypeError, ValueError)):
            bad_calls[index % len(bad_calls)]()
        output = engine.predict(x, h)[0]
        assert torch.equal(output, reference), f"good call {index} differs after a failed call"
        assert not output.requires_grad


@pytest.mark.parametrize("settings", FUSION_SETTINGS)
def test_8_threads_200_calls_each_get_their_own_result(exported_recurrent: Path, settings: dict) -> None:
    engine = _engine(exported_recurrent, settings, [(i + 1, 4) for i in range(8)])
    torch.manual_seed(3)
    inputs = [(torch.randn(i + 1, 4), torch.randn(i + 1, 4)) for i in range(8)]  # per-thread shapes too
    serial = [engine.predict(x, h)[0] for x, h in inputs]

    def calls(index: int) -> int:
        mismatches = 0
        for _ in range(200):
            mismatches += not torch.equal(engine.predict(*inputs[index])[0], serial[index])
        return mismatches

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(calls, range(8))) == [0] * 8


def test_exceptions_in_worker_threads_reach_the_caller(exported_recurrent: Path) -> None:
    engine = tsnative.Engine(exported_recurrent)
    with ThreadPoolExecutor(max_workers=4) as pool:
        future = pool.submit(engine.predict, torch.randn(2, 4).double(), torch.randn(2, 4))
        with pytest.raises(TypeError, match="expected float32"):
            future.result()


def test_memory_check_finds_no_growth_and_catches_the_leaking_control() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "memory.py"), "--calls", "2000", "--cycles", "40"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "LEAK (caught, as it must be)" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0, result.stdout


def test_files_with_bare_nan_metadata_from_earlier_versions_still_load(tmp_path: Path) -> None:
    # Before tsnative wrote strict JSON, a check that did not run was recorded as a bare NaN.
    path = tmp_path / "old.pt"
    metadata = {
        "format": "tsnative.metadata/1",
        "inputs": [{"name": "x", "type": "Tensor", "dtype": "float32", "shape": [2, 3]}],
        "verification": {"checks": [{"label": "batch 1", "max_abs_diff": float("nan")}]},
    }
    text = json.dumps(metadata)
    assert "NaN" in text
    torch.jit.script(torch.nn.ReLU()).save(str(path), _extra_files={"tsnative.json": text})
    engine = tsnative.Engine(path)
    assert engine.predict(torch.tensor([[-1.0, 0.0, 2.0], [1.0, -2.0, 3.0]])).tolist() == [[0, 0, 2], [1, 0, 3]]
    with pytest.raises(ValueError, match=r"input 'x': expected float32 tensor of shape \[2, 3\]"):
        engine.predict(torch.ones(4, 3))  # the recorded inputs are still read and checked


@pytest.mark.parametrize("depth", [20_000, 200_000])
def test_deeply_nested_metadata_is_a_one_line_error_everywhere(tmp_path: Path, depth: int) -> None:
    # 200,000 nested lists (400 KB) overflowed the stack in the C++ reader's re-serialisation (a segfault); 20,000
    # were a raw RecursionError in Engine.metadata.
    nested = "[" * depth + "]" * depth
    text = '{"format": "tsnative.metadata/1", "inputs": [], "extra": ' + nested + "}"
    path = tmp_path / "nested.pt"
    torch.jit.script(torch.nn.ReLU()).save(str(path), _extra_files={"tsnative.json": text})
    expected = "nested at most 100 levels deep, got deeper"
    with pytest.raises(ValueError, match=expected):
        tsnative._C.parse_metadata(text)
    with pytest.raises(tsnative.ModelLoadError, match=expected):
        tsnative.Engine(path)
    engine = tsnative.Engine(path, check_inputs=False)  # the metadata is not read at load: read when asked for
    with pytest.raises(ValueError, match=expected):
        engine.metadata  # noqa: B018
    for command in (["info", str(path)], ["triton", str(path), "--repo", str(tmp_path / "repo")]):
        result = subprocess.run(
            [sys.executable, "-m", "tsnative.cli", *command], capture_output=True, text=True, timeout=120
        )
        assert result.returncode != 0 and result.returncode > 0, result.stderr  # an exit code, not a signal
        assert "Traceback" not in result.stderr and expected in result.stderr, result.stderr


class RaisesFirst(tsnative.Engine):
    def __init__(self, path: Path) -> None:
        raise RuntimeError("a subclass that fails before loading")


def test_an_engine_never_loaded_is_a_type_error_not_a_crash(tmp_path: Path) -> None:
    # pybind11 hands a method of an object whose __init__ never built the C++ engine a null pointer: repr (pytest
    # --showlocals, Sentry, rich tracebacks) crashed the process or spun.
    for make in (lambda: tsnative.Engine.__new__(tsnative.Engine), lambda: RaisesFirst.__new__(RaisesFirst)):
        engine = make()
        for touch in (
            repr,
            lambda e: e.predict(torch.ones(1)),
            lambda e: e(torch.ones(1)),
            lambda e: e.closed,
            lambda e: e.load_report,
            lambda e: e.schema,
            lambda e: e.path,
            lambda e: e.fusion,
            lambda e: e.close(),
            lambda e: e.time(torch.ones(1)),
        ):
            with pytest.raises(TypeError, match="this engine was never loaded"):
                touch(engine)
    with pytest.raises(RuntimeError, match="fails before loading"):
        RaisesFirst(tmp_path / "any.pt")


PEAK_MEMORY_OF_A_LOAD = """
import resource, sys, tsnative
options = {"sha256": sys.argv[2]} if sys.argv[2] != "-" else {"max_archive_bytes": int(sys.argv[3]) or None}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    tsnative.Engine(sys.argv[1], **options)
except tsnative.ModelLoadError as error:
    print(error)
print("grew_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_the_pin_and_the_budget_apply_before_anything_parses_the_file(tmp_path: Path) -> None:
    # The backend was chosen by parsing the file before its pin and budget were checked: a 300 KB file whose
    # archive_format record deflates to 300 MB grew the process by ~490 MiB before it was refused. Unpinned and
    # within the budget (the third case), the record is still not inflated to tell the format.
    path = tmp_path / "bomb.pt2"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb/archive_format", b"\0" * 300_000_000)
        archive.writestr("bomb/.data/version", b"3\n")
    assert path.stat().st_size < 1_000_000
    for args in (["0" * 64], ["-", str(path.stat().st_size - 1)], ["-", "0"]):
        result = subprocess.run(
            [sys.executable, "-c", PEAK_MEMORY_OF_A_LOAD, str(path), *args], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        refusals = ("sha256 mismatch", "max_archive_bytes", "holds no TorchScript program")
        assert any(refusal in result.stdout for refusal in refusals), result.stdout
        grew_mib = int(result.stdout.split("grew_kib")[1]) / 1024
        assert grew_mib < 50, result.stdout
