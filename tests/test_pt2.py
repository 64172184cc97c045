"""AOTInductor packages (.pt2) behind the same Engine: tsnative.export(..., "m.pt2") compiles and verifies through
the native engine's AOTInductor backend (cpp/src/backends/aoti/aoti_backend.cpp); Engine, ts-infer and the checks of
any file apply. Each export compiles C++ (seconds): the packages are made once per module."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import tsnative
from conftest import DictAndList, Recurrent, batching, outputs_in_order, run_tool, small_conv_net

TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


class BranchOnBatch(torch.nn.Module):
    """Computes something else for small batches: one graph cannot cover every batch size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > 2:
            return x * 2
        return x + 1


@pytest.fixture(scope="module")
def conv(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path, tsnative.ExportReport]:
    torch.manual_seed(0)
    model = small_conv_net()
    path = tmp_path_factory.mktemp("pt2") / "conv.pt2"
    return model, path, tsnative.export(model, torch.randn(2, 3, 16, 16), path)


def test_export_compiles_verifies_and_records(conv: tuple[torch.nn.Module, Path, tsnative.ExportReport]) -> None:
    _, path, report = conv
    assert report.passed and report.mode == "pt2" and report.optimizations == ["aot_inductor", "freezing"]
    assert report.batch == "dynamic: verified on batch 1, 4"
    assert path.exists() and not list(path.parent.glob("*.unverified*"))
    assert report.metadata["inputs"] == [{"name": "x", "type": "Tensor", "dtype": "float32", "shape": [-1, 3, 16, 16]}]


def test_engine_runs_the_package_as_eager_does(conv: tuple[torch.nn.Module, Path, tsnative.ExportReport]) -> None:
    model, path, _ = conv
    engine = tsnative.Engine(path, warmup_shapes=[(1, 3, 16, 16)])
    report = engine.load_report
    assert report["backend"] == "aoti" and report["frozen"]
    assert [step["name"] for step in report["steps"]] == ["aot_inductor", "warmup"]
    assert str(engine.schema) == "forward(x: Tensor) -> Tensor" and engine.metadata["export_mode"] == "pt2"
    for batch in (1, 3):
        x = torch.randn(batch, 3, 16, 16)
        with torch.no_grad():
            torch.testing.assert_close(engine.predict(x), model(x), **TOLERANCE)
        torch.testing.assert_close(engine.predict(x.numpy()), engine.predict(x))  # numpy in, as for TorchScript
    with pytest.raises(ValueError, match=r"input 'x': expected float32 tensor of shape \[N, 3, 16, 16\]"):
        engine.predict(torch.randn(1, 3, 8, 8))  # the recorded shapes are checked before the package runs


def test_dynamic_batching_runs_a_package_through_the_same_backend_interface(
    conv: tuple[torch.nn.Module, Path, tsnative.ExportReport],
) -> None:
    model, path, _ = conv
    engine = tsnative.Engine(path, max_batch=4, batch_delay_us=60_000_000)  # a batch runs when full
    reference = tsnative.Engine(path)
    torch.manual_seed(9)
    inputs = [torch.randn(1, 3, 16, 16) for _ in range(4)]
    outputs = outputs_in_order(engine, [(x,) for x in inputs])
    same_batch = reference.predict(torch.cat(inputs))
    for i, output in enumerate(outputs):
        assert torch.equal(output, same_batch[i : i + 1])  # the package's own run of the same batch
        with torch.no_grad():
            torch.testing.assert_close(output, model(inputs[i]), **TOLERANCE)
    assert batching(engine)["batches"] == 1 and batching(engine)["largest_batch"] == 4


@pytest.mark.parametrize("runners", [1, 3])
def test_concurrent_calls_give_the_serial_outputs(
    conv: tuple[torch.nn.Module, Path, tsnative.ExportReport], runners: int
) -> None:
    _, path, _ = conv
    engine = tsnative.Engine(path, package_runners=runners)  # runners: calls the package runs at once
    inputs = [torch.randn(batch % 3 + 1, 3, 16, 16) for batch in range(12)]
    serial = [engine.predict(x) for x in inputs]
    results: dict[int, torch.Tensor] = {}

    def run(indices: range) -> None:
        for _ in range(5):
            for index in indices:
                results[index] = engine.predict(inputs[index])

    threads = [threading.Thread(target=run, args=(range(i, 12, 4),)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, expected in enumerate(serial):
        assert torch.equal(results[index], expected)


def test_ts_infer_runs_the_package(conv: tuple[torch.nn.Module, Path, tsnative.ExportReport]) -> None:
    _, path, _ = conv
    result = run_tool("ts-infer", path, "--batch", "3", "--iters", "2", "--json", check=True)
    report = json.loads(result.stdout)
    assert report["output"]["shape"] == [3, 5] and report["inputs"][0]["shape"] == [3, 3, 16, 16]
    assert report["load_report"]["steps"][0]["name"] == "aot_inductor" and report["timing"]["iterations"] == 2
    assert report["load_report"]["backend"] == "aoti"


def test_options_that_do_not_apply_are_refused(conv: tuple[torch.nn.Module, Path, tsnative.ExportReport]) -> None:
    _, path, _ = conv
    # TorchScript's options, refused in one place from their declaration (OptionInfo::backend), none ignored.
    for option, value, shown in [
        ("precision", "bf16", '"bf16"'),
        ("method", "embed", '"embed"'),
        ("onednn_fusion", "on", '"on"'),
        ("freeze", False, "false"),
        ("executor_per_shape", False, "false"),
    ]:
        expected = f"{option}: applies to TorchScript files; this file is a .pt2 package (got {shown})"
        with pytest.raises(ValueError) as refused:
            tsnative.Engine(path, **{option: value})
        assert str(refused.value) == expected
    tsnative.Engine(path, precision="fp32", onednn_fusion="auto")  # their defaults, given: nothing to refuse
    # The compiled code assumes the recorded shapes and does not check them: the engine's check is its guard.
    with pytest.raises(ValueError, match=r"check_inputs: .* cannot be turned off"):
        tsnative.Engine(path, check_inputs=False)
    with pytest.raises(ValueError, match=r"option .package_runners. expected a number >= 1, got 0"):
        tsnative.Engine(path, package_runners=0)


def test_package_runners_are_for_packages_only(tmp_path: Path) -> None:
    path = tsnative.export(Recurrent(), (torch.randn(2, 4), torch.randn(2, 4)), tmp_path / "pair.pt").path
    with pytest.raises(ValueError) as refused:
        tsnative.Engine(path, package_runners=2)
    assert str(refused.value) == "package_runners: applies to .pt2 packages; this file is a TorchScript file (got 2)"


def test_inputs_of_any_strides_give_eager_outputs(conv: tuple[torch.nn.Module, Path, tsnative.ExportReport]) -> None:
    model, path, _ = conv
    x = torch.randn(3, 16, 16, 2).permute(3, 0, 1, 2)  # not contiguous: the compiled code reads contiguous memory
    assert not x.is_contiguous()
    with torch.no_grad():
        torch.testing.assert_close(tsnative.Engine(path).predict(x), model(x), **TOLERANCE)


class Nested(torch.nn.Module):
    """A tuple and a dict in, a dict holding a tensor, a tuple and a list out."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)

    def forward(
        self, x: torch.Tensor, pair: tuple[torch.Tensor, torch.Tensor], features: dict[str, torch.Tensor]
    ) -> dict[str, Any]:
        mixed = self.linear(x) + pair[0] * features["scale"]
        return {"mixed": mixed, "parts": (pair[1] - x, features["ids"] * 2), "list": [mixed.sum(dim=1)]}


def nested_inputs(batch: int) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]:
    # The dict's keys in another order than at export: the package's call spec orders them.
    features = {"ids": torch.randint(0, 9, (batch, 4)), "scale": torch.randn(batch, 4)}
    return torch.randn(batch, 4), (torch.randn(batch, 4), torch.randn(batch, 4)), features


def test_tuple_and_dict_inputs_and_outputs_through_engine_and_ts_infer(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Nested().eval()
    x, pair, features = nested_inputs(2)
    report = tsnative.export(model, (x, pair, dict(reversed(features.items()))), tmp_path / "nested.pt2")
    assert report.passed and report.batch.startswith("dynamic")
    engine = tsnative.Engine(tmp_path / "nested.pt2")
    assert str(engine.schema) == (
        "forward(x: Tensor, pair: Tuple[Tensor, Tensor], features: Dict[str, Tensor]) -> Dict[str, Any]"
    )
    for batch in (1, 3):
        inputs = nested_inputs(batch)
        got = engine.predict(*inputs)
        assert set(got) == {"mixed", "parts", "list"}
        assert isinstance(got["parts"], tuple) and isinstance(got["list"], list)
        with torch.no_grad():
            torch.testing.assert_close(got, model(*inputs), **TOLERANCE)
    with pytest.raises(ValueError, match=r"input 'features': expected a dict with keys \['scale', 'ids'\], got keys"):
        engine.predict(x, pair, {"ids": features["ids"]})
    with pytest.raises(ValueError, match=r"input 'pair\[1\]': expected float32 tensor of shape \[N, 4\], got"):
        engine.predict(x, (pair[0], torch.randn(2, 5)), features)
    with pytest.raises(TypeError, match=r"input 'features\[\"ids\"\]': expected int64 tensor of shape \[N, 4\]"):
        engine.predict(x, pair, {"ids": features["ids"].float(), "scale": features["scale"]})
    # One dynamic batch sizes every batch-sized buffer of the compiled code: tensors must agree on it.
    with pytest.raises(ValueError, match=r"'pair\[0\]': expected the batch size of input 'x' \(2\), got \[3, 4\]"):
        engine.predict(x, (torch.randn(3, 4), pair[1]), features)
    with pytest.raises(ValueError, match=r"input 'x': expected a batch of 1 or more, got \[0, 4\]"):
        engine.predict(*nested_inputs(0))
    engine.predict(x, pair, features)  # a refused call leaves the engine usable

    result = json.loads(run_tool("ts-infer", tmp_path / "nested.pt2", "--batch", "3", "--json", check=True).stdout)
    assert [item["name"] for item in result["inputs"]] == [
        "x",
        "pair[0]",
        "pair[1]",
        'features["scale"]',
        'features["ids"]',
    ]
    assert all(item["shape"] == [3, 4] for item in result["inputs"])
    assert result["output"]["shape"] == [3, 4]  # the first tensor of the output


def test_dict_and_list_inputs(tmp_path: Path) -> None:
    model = DictAndList().eval()  # a dict and a list in; a tuple of a dict and a list of scalars out
    features = {"a": torch.randn(5), "b": torch.randn(5)}
    weights = [torch.tensor(2.0), torch.tensor(-1.0)]
    report = tsnative.export(model, (features, weights), tmp_path / "dict_list.pt2")
    assert report.passed
    engine = tsnative.Engine(tmp_path / "dict_list.pt2")
    torch.testing.assert_close(engine.predict(features, weights), model(features, weights), **TOLERANCE)
    # A .pt2's lists have the recorded length, compiled in.
    with pytest.raises(ValueError, match=r"input 'weights': expected a list of 2 items, got 3"):
        engine.predict(features, [*weights, torch.tensor(1.0)])


def test_tuple_outputs_and_two_inputs(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Recurrent().eval()  # two tensors in, a tuple of two out
    x, h = torch.randn(2, 4), torch.randn(2, 4)
    report = tsnative.export(model, (x, h), tmp_path / "pair.pt2")
    assert report.passed
    engine = tsnative.Engine(tmp_path / "pair.pt2")
    for batch in (1, 5):
        x, h = torch.randn(batch, 4), torch.randn(batch, 4)
        got = engine.predict(x, h=h)
        assert isinstance(got, tuple) and len(got) == 2
        with torch.no_grad():
            for native, eager in zip(got, model(x, h), strict=True):
                torch.testing.assert_close(native, eager, **TOLERANCE)


class BranchOnValues(torch.nn.Module):
    """Branches on the data: torch.export needs torch.cond for that."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x * 2
        return x + 1


def test_a_branch_on_the_batch_size_gives_a_fixed_batch_with_the_reason(tmp_path: Path) -> None:
    report = tsnative.export(BranchOnBatch(), torch.randn(3, 4), tmp_path / "branch.pt2")
    assert report.passed and report.batch.startswith("fixed at 3: a dynamic batch could not be exported (")
    skipped = [check for check in report.checks if check.skipped]
    assert [c.label for c in skipped] == ["batch 1", "batch 5"]
    assert all(c.problem == "not run: the package's batch is fixed at 3" for c in skipped)
    engine = tsnative.Engine(tmp_path / "branch.pt2")
    torch.testing.assert_close(engine.predict(torch.ones(3, 4)), torch.full((3, 4), 2.0))
    with pytest.raises(ValueError, match=r"expected float32 tensor of shape \[3, 4\]"):
        engine.predict(torch.ones(1, 4))  # the batch the graph would get wrong is refused, not miscomputed


class CountsCalls(torch.nn.Module):
    """Python state that torch.export bakes in: the package multiplies by the count at export, eager by the current
    one."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x * self.calls


def test_a_package_that_differs_from_eager_is_caught_by_verification(tmp_path: Path) -> None:
    with pytest.raises(tsnative.ExportVerificationError) as caught:
        tsnative.export(CountsCalls(), torch.randn(2, 4), tmp_path / "counts.pt2")
    failed = [check.label for check in caught.value.report.checks if not check.passed]
    assert failed and "example" not in failed  # the example matches; the calls after it do not
    assert not list(tmp_path.iterdir())  # neither the package nor its draft
    kept = tsnative.export(CountsCalls(), torch.randn(2, 4), tmp_path / "counts.pt2", strict=False)
    assert not kept.passed and (tmp_path / "counts.pt2").exists()


def test_a_branch_on_the_data_is_an_export_error(tmp_path: Path) -> None:
    with pytest.raises(tsnative.ExportError, match=r"torch.export could not export BranchOnValues: .*torch.cond"):
        tsnative.export(BranchOnValues(), torch.randn(3, 4), tmp_path / "values.pt2")
    assert not list(tmp_path.iterdir())  # neither the package nor its draft


def test_malformed_packages_are_clean_load_errors(
    conv: tuple[torch.nn.Module, Path, tsnative.ExportReport], tmp_path: Path
) -> None:
    _, path, _ = conv
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt2"
    truncated.write_bytes(data[: len(data) // 2])
    hollow = tmp_path / "hollow.pt2"  # says it is a package, holds no model
    with zipfile.ZipFile(hollow, "w") as archive:
        archive.writestr("hollow/archive_format", "pt2")
    for bad in (truncated, hollow):
        with pytest.raises(tsnative.ModelLoadError) as caught:
            tsnative.Engine(bad)
        assert "\n" not in str(caught.value)
    engine = tsnative.Engine(path)  # nothing left behind by the failures
    assert engine.predict(torch.randn(1, 3, 16, 16)).shape == (1, 5)


def test_the_loader_reads_the_checked_file_not_the_path_again(
    conv: tuple[torch.nn.Module, Path, tsnative.ExportReport], tmp_path: Path
) -> None:
    model, path, _ = conv
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    # Pinned: the hashed bytes are what the loader reads (extracted from them), and the engine runs after the load.
    engine = tsnative.Engine(path, sha256=digest)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(engine.predict(x), model(x), **TOLERANCE)
    with pytest.raises(tsnative.ModelLoadError, match="sha256 mismatch"):
        tsnative.Engine(path, sha256="0" * 64)
    # Unpinned: once loaded, the engine needs neither the path nor the file.
    moved = tmp_path / "moved.pt2"
    moved.write_bytes(path.read_bytes())
    engine = tsnative.Engine(moved)
    moved.unlink()
    assert engine.predict(x).shape == (2, 5)


def rewritten(package: Path, target: Path, entry: Callable[[str, bytes], tuple[str, bytes]]) -> Path:
    """A copy of `package` with each entry's (name, data) as `entry` returns it."""
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(target, "w") as copy:
        for info in source.infolist():
            name, data = entry(info.filename, source.read(info))
            copy.writestr(name if name != info.filename else info, data)
    return target


def forged(package: Path, target: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of `package` whose AOTInductor metadata (which holds tsnative.json) `change` has edited."""

    def edit(name: str, data: bytes) -> tuple[str, bytes]:
        if not name.endswith("wrapper_metadata.json"):
            return name, data
        metadata = json.loads(data)
        change(metadata)
        return name, json.dumps(metadata).encode()

    return rewritten(package, target, edit)


def test_a_package_for_instructions_this_cpu_lacks_is_refused_at_load(
    conv: tuple[torch.nn.Module, Path, tsnative.ExportReport], tmp_path: Path
) -> None:
    # Run, its kernels (compiled with -march=native) would kill the process with an illegal instruction.
    _, path, report = conv
    assert report.metadata["cpu_features"] == tsnative._C.cpu_features()  # the exporting CPU's, recorded
    flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")).split()
    lacking = [(word, gcc) for word, gcc, flag in ISA_WORDS if flag not in flags]
    if not lacking:
        pytest.skip("this CPU has every instruction set this test can forge")
    word, feature = lacking[0]

    def recorded(metadata: dict[str, Any]) -> None:
        ours = json.loads(metadata[tsnative._C.METADATA_FILE])
        ours["cpu_features"] = [*ours["cpu_features"], feature]
        metadata[tsnative._C.METADATA_FILE] = json.dumps(ours)

    def isa(metadata: dict[str, Any]) -> None:
        metadata["AOTI_CPU_ISA"] = word

    for change in (recorded, isa):
        with pytest.raises(
            tsnative.ModelLoadError, match=f"compiled for a CPU with instructions this CPU lacks \\({feature}"
        ):
            tsnative.Engine(forged(path, tmp_path / f"{change.__name__}.pt2", change))


# Inductor's ISA words, the GCC feature each needs first, and its /proc/cpuinfo flag.
ISA_WORDS = (("AMX_TILE", "amx-tile", "amx_tile"), ("AVX512", "avx512f", "avx512f"))


def test_a_package_without_tsnative_metadata_is_refused(tmp_path: Path) -> None:
    model = torch.nn.Linear(4, 2).eval()
    program = torch.export.export(model, (torch.randn(2, 4),))
    package = torch._inductor.aoti_compile_and_package(program, package_path=str(tmp_path / "plain.pt2"))
    with pytest.raises(tsnative.ModelLoadError, match=r"no tsnative metadata \(tsnative.json\)"):
        tsnative.Engine(package)


def test_an_example_batch_of_one_gives_a_fixed_batch_and_says_why(tmp_path: Path) -> None:
    torch.manual_seed(0)
    report = tsnative.export(torch.nn.Linear(4, 2).eval(), torch.randn(1, 4), tmp_path / "one.pt2")
    assert report.passed and report.batch.startswith("fixed at 1: the example's batch is 1")
    engine = tsnative.Engine(tmp_path / "one.pt2")
    assert engine.metadata["inputs"][0]["shape"] == [1, 4] and not engine.metadata["dynamic_batch"]
    with pytest.raises(
        ValueError, match=r"input 'input': expected float32 tensor of shape \[1, 4\], got float32 \[2, 4\]"
    ):
        engine.predict(torch.randn(2, 4))


def test_bench_measures_a_package_from_python_and_natively(
    conv: tuple[torch.nn.Module, Path, tsnative.ExportReport],
) -> None:
    _, path, _ = conv
    results = tsnative.bench(path, batches=[1, 2], cold_loads=False, budget_seconds=0.3, progress=False)
    assert {row["path"] for row in results["latency"]} == {"aoti_python", "aoti_native"}
    assert {row["label"] for row in results["loads"]} == {"AOTInductor (Python)", "AOTInductor (native)"}
    assert results["input_shape"] == [3, 16, 16] and results["files"] == {"pt2": path.stat().st_size}


def test_resnet18_package_equals_eager_through_engine_and_ts_infer(tmp_path: Path) -> None:
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    path = tmp_path / "r18.pt2"
    report = tsnative.export(model, torch.randn(2, 3, 64, 64), path)
    assert report.passed and report.batch.startswith("dynamic")
    engine = tsnative.Engine(path)
    for batch in (1, 3):
        x = torch.randn(batch, 3, 64, 64)
        with torch.no_grad():
            torch.testing.assert_close(engine.predict(x), model(x), rtol=1e-3, atol=1e-4)
    result = json.loads(run_tool("ts-infer", path, "--batch", "3", "--json", check=True).stdout)
    assert result["output"]["shape"] == [3, 1000] and len(result["topk"]) == 3


TEMP_DIR_CHILD = """
import os, sys, tempfile, torch, tsnative
from pathlib import Path
temp = Path(tempfile.gettempdir())
for _ in range(int(sys.argv[2])):
    try:
        engine = tsnative.Engine(sys.argv[1])
        engine.predict(torch.randn(1, 3, 16, 16))
        engine.close()
        print("loaded")
    except tsnative.ModelLoadError as error:
        print("refused:", error)
    print("in temp:", sorted(p.name for p in temp.iterdir()))
maps = open("/proc/self/maps").read().splitlines()
libraries = {line.split()[-1] for line in maps if line.rstrip().endswith(".so") and str(temp) in line}
print("libraries mapped:", len(libraries))
"""


def run_in_temp(package: Path, temp: Path, loads: int) -> list[str]:
    """Loads `package` `loads` times in a child whose temp directory is `temp`; its output lines."""
    temp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(temp)}
    result = subprocess.run(
        [sys.executable, "-c", TEMP_DIR_CHILD, str(package), str(loads)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_loading_a_package_again_reuses_its_files_and_exit_removes_them(
    conv: tuple[torch.nn.Module, Path, tsnative.ExportReport], tmp_path: Path
) -> None:
    # Each load extracted a fresh copy whose library the loader dlopen()s and never closes: ~45 MiB of ResNet-18
    # stayed mapped per load/close cycle (benchmarks/soak.py). The same file's folder is now reused.
    _, path, _ = conv
    lines = run_in_temp(path, tmp_path / "temp", loads=4)
    assert lines.count("loaded") == 4
    folders = {line for line in lines if line.startswith("in temp:")}
    assert len(folders) == 1 and "tsnative-pt2-" in next(iter(folders)), lines  # one folder, the same each time
    assert lines[-1] == "libraries mapped: 1"
    assert list((tmp_path / "temp").iterdir()) == []  # removed at exit


def test_a_failed_load_leaves_nothing_in_the_temp_dir(
    conv: tuple[torch.nn.Module, Path, tsnative.ExportReport], tmp_path: Path
) -> None:
    # The loader's own extraction stayed behind whenever its constructor threw (100 folders after 100 failures).
    _, path, _ = conv
    broken = rewritten(
        path,
        tmp_path / "broken.pt2",
        lambda name, data: (name, b"\x7fELF not a library" if name.endswith(".so") else data),
    )
    temp = tmp_path / "temp"
    temp.mkdir()
    # A folder of a process that was killed while it loaded: removed by the next extraction.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = temp / f"tsnative-pt2-{int(dead.stdout)}-killed"
    (stale / "data").mkdir(parents=True)
    lines = run_in_temp(broken, temp, loads=3)
    assert sum(line.startswith("refused: ") for line in lines) == 3, lines
    assert all(line == "in temp: []" for line in lines if line.startswith("in temp:")), lines
    assert list(temp.iterdir()) == []


def test_entries_named_outside_the_archive_stay_inside_the_extraction(
    conv: tuple[torch.nn.Module, Path, tsnative.ExportReport], tmp_path: Path
) -> None:
    # Entries renamed "../..." passed the name check (the reader strips the archive's first folder) and the loader
    # joined the raw names to its temp folder: the files landed outside it and were never removed.
    _, path, _ = conv
    escaping = rewritten(path, tmp_path / "escaping.pt2", lambda name, data: ("../" + name.split("/", 1)[1], data))
    before = {p.name for p in Path(tempfile.gettempdir()).iterdir()}
    lines = run_in_temp(escaping, tmp_path / "temp", loads=1)
    assert "loaded" in lines or any(line.startswith("refused: ") for line in lines), lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["escaping.pt2", "temp"]
    assert list((tmp_path / "temp").iterdir()) == []
    # An escape from a loader folder in the system's temp dir would land beside it (other processes' compiler
    # temporaries come and go there too, so only the escaping entries' own top folder is looked for).
    assert "data" not in {p.name for p in Path(tempfile.gettempdir()).iterdir()} - before


def test_a_package_folder_removed_by_a_temp_cleaner_is_extracted_again(
    conv: tuple[torch.nn.Module, Path, tsnative.ExportReport],
) -> None:
    # The folder is kept for reloads for the life of the process; /tmp cleaners remove old files under servers.
    _, path, _ = conv
    tsnative.Engine(path).close()
    folders = list(Path(tempfile.gettempdir()).glob(f"tsnative-pt2-{os.getpid()}-*"))
    assert folders
    for folder in folders:
        shutil.rmtree(folder)
    engine = tsnative.Engine(path)
    assert engine.predict(torch.randn(2, 3, 16, 16)).shape == (2, 5)
