"""The command lines as a careless user types them: versions, bad numbers, unwritable outputs, a closed pipe,
JSON on stdout alone. Each failure is an exit status of 1 or 2 and one line on stderr, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_tool

TSNATIVE = [sys.executable, "-m", "tsnative.cli"]


def tsnative(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TSNATIVE, *map(str, args)], capture_output=True, text=True, timeout=300)


def one_error_line(stderr: str) -> str:
    # argparse's usage block (a "usage:" line and its indented continuation lines) comes before the error line.
    lines = [line for line in stderr.strip().splitlines() if line.strip() and not line.startswith(("usage:", " "))]
    assert len(lines) == 1, f"expected one error line, got:\n{stderr}"
    assert "Traceback" not in stderr and "frame #" not in stderr
    return lines[0]


@pytest.mark.parametrize("tool", ["tsnative", "ts-infer", "ts-train"])
def test_every_tool_says_its_version(tool: str) -> None:
    result = tsnative("--version") if tool == "tsnative" else run_tool(tool, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{tool} 0.1.0"


@pytest.mark.parametrize(
    ("option", "value"), [("--batch", "0"), ("--batch", "-1"), ("--size", "-5"), ("--classes", "x")]
)
def test_export_refuses_counts_that_are_not_positive(tmp_path: Path, option: str, value: str) -> None:
    result = tsnative("export", "resnet18", tmp_path / "r.pt", option, value)
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert f"argument {option}: expected a positive integer, got" in line
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_export_refuses_an_unwritable_destination_before_exporting(tmp_path: Path, where: str) -> None:
    out = tmp_path / "no_such_folder" / "r.pt" if where == "missing folder" else tmp_path
    result = tsnative("export", "resnet18", out, "--size", "32")
    assert result.returncode == 1
    assert "cannot write" in one_error_line(result.stderr)
    assert not list(tmp_path.rglob("*.unverified"))


def test_info_into_a_closed_pipe_is_not_an_error(conv_files: dict[str, Path]) -> None:
    command = " ".join([*TSNATIVE, "info", str(conv_files["exported"])])
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command} | head -1"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("file ")
    assert "BrokenPipe" not in result.stderr and "Traceback" not in result.stderr


def test_info_on_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "notes.pt"
    path.write_text("not a model")
    result = tsnative("info", path)
    assert result.returncode == 1
    assert "not a zip archive" in one_error_line(result.stderr)


def test_help_does_not_import_torch() -> None:
    # Usage and --help answer before torch (2-3 s to import) is loaded: checked by what the process imported, not
    # by the clock.
    code = (
        "import sys\n"
        "from tsnative.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'numpy', 'matplotlib', 'rich'})\n"
        "print('heavy:', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage: tsnative" in result.stdout
    assert result.stderr.strip() == "heavy: []"


def test_import_tsnative_still_gives_the_whole_api() -> None:
    code = (
        "import sys, tsnative\n"
        "assert 'torch' not in sys.modules, 'import tsnative alone imports torch'\n"
        "assert callable(tsnative.bench) and tsnative.bench.__module__ == 'tsnative.bench'\n"
        "import tsnative.bench.run\n"  # importing the subpackage's modules leaves tsnative.bench the function
        "assert callable(tsnative.bench)\n"
        "import tsnative.export, tsnative.finetune\n"  # modules imported lazily: the package keeps the functions
        "assert (tsnative.export.__name__, tsnative.finetune.__name__) == ('export', 'finetune')\n"
        "engine_class = tsnative.Engine\n"
        "assert 'torch' in sys.modules and 'tsnative._C' in sys.modules\n"
        "assert set(tsnative.__all__) <= set(dir(tsnative))\n"
        "print(engine_class.__name__, tsnative.ModelLoadError.__mro__[1].__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Engine", "TsnativeError"]


@pytest.fixture(scope="module")
def bench_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files a user may hand to tsnative bench that it cannot measure."""
    import torch

    from conftest import Recurrent, save_scripted, small_conv_net

    folder = tmp_path_factory.mktemp("bench_inputs")
    torch.save(small_conv_net().state_dict(), folder / "checkpoint.pt")
    (folder / "empty.pt").write_bytes(b"")
    (folder / "random.pt").write_bytes(bytes(range(256)) * 8)
    save_scripted(Recurrent(), folder / "two_inputs.pt")
    (folder / "a_file").write_text("not a folder")
    return {path.stem: path for path in folder.iterdir()}


def bench_command(model: str | Path, out: Path, *options: str) -> list[str]:
    # The smallest study: one batch size, no cold loads, a short budget (it fails before measuring anyway).
    return ["bench", str(model), "--batch", "1", "--budget", "0.2", "--no-cold-loads", "--out", str(out), *options]


def run_isolated(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """tsnative with its own TMPDIR, so that a temporary folder left behind would show."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(temp)}
    return subprocess.run([*TSNATIVE, *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("checkpoint", "it is a torch.save checkpoint"),
        ("empty", "the file is empty"),
        ("random", "not a zip archive"),
        ("two_inputs", "two_inputs.pt takes (x: Tensor, h: Tensor)"),
        ("missing.pt", "No such file or directory"),
        ("resnet19", "neither a file nor a torchvision classification model; did you mean resnet18"),
    ],
)
def test_bench_refuses_what_it_cannot_measure(
    bench_inputs: dict[str, Path], tmp_path: Path, model: str, expected: str
) -> None:
    path = bench_inputs.get(model, bench_inputs["empty"].parent / model if model.endswith(".pt") else model)
    out = tmp_path / "out"
    result = run_isolated(bench_command(path, out), tmp_path)
    assert result.returncode == 1, result.stderr
    assert expected in one_error_line(result.stderr)
    # (torch itself may leave its compiler cache, torchinductor_<user>, in TMPDIR)
    assert not out.exists() and not list((tmp_path / "tmp").glob("tsnative-bench-*"))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--threads", "-1"], "argument --threads: expected a positive integer, got -1"),
        (["--device", "gpu"], "argument --device: expected cpu, cuda, cuda:N (comma-separated), got 'gpu'"),
        (["--batch", "-1"], "argument --batch: expected comma-separated positive integers like 1,8,32, got '-1'"),
        (["--batch", "0"], "argument --batch: expected comma-separated positive integers like 1,8,32, got '0'"),
        (["--batch", "1,x"], "argument --batch: expected comma-separated positive integers like 1,8,32, got '1,x'"),
        (["--size", "0"], "argument --size: expected a positive integer, got 0"),
        (["--budget", "-1"], "argument --budget: expected a positive number, got -1"),
        (["--mode", "jit"], "argument --mode: expected script, trace, auto (comma-separated), got 'jit'"),
    ],
)
def test_bench_usage_errors(conv_files: dict[str, Path], tmp_path: Path, options: list[str], expected: str) -> None:
    out = tmp_path / "out"
    # The option is given after bench_command's own (--batch 1): argparse reads both, and refuses the bad one.
    result = run_isolated([*bench_command(conv_files["exported"], out), *options], tmp_path)
    assert result.returncode == 2
    assert expected in one_error_line(result.stderr)
    assert not out.exists()


def test_bench_refuses_an_output_that_is_a_file(bench_inputs: dict[str, Path], tmp_path: Path) -> None:
    result = run_isolated(bench_command(bench_inputs["two_inputs"], bench_inputs["a_file"]), tmp_path)
    assert result.returncode == 1
    assert "out: expected a folder for the results, got the existing file" in one_error_line(result.stderr)
    assert bench_inputs["a_file"].read_text() == "not a folder"


def test_bench_refuses_a_read_only_output(conv_files: dict[str, Path], tmp_path: Path) -> None:
    # /proc/sys is read-only even for root (a chmod'ed folder is not: root writes there anyway).
    if os.access("/proc/sys", os.W_OK) or not os.path.isdir("/proc/sys"):
        pytest.skip("needs a read-only /proc/sys")
    result = run_isolated(bench_command(conv_files["exported"], Path("/proc/sys/tsnative-bench")), tmp_path)
    assert result.returncode == 1
    assert "out: cannot write to '/proc/sys/tsnative-bench': '/proc/sys' is not writable" in one_error_line(
        result.stderr
    )


def test_bench_refuses_a_size_the_file_does_not_record(conv_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_isolated(bench_command(conv_files["exported"], out, "--size", "32"), tmp_path)
    assert result.returncode == 1
    assert "records its input as [N, 3, 16, 16]; size 32 does not fit it" in one_error_line(result.stderr)
    assert not out.exists()


# Ctrl-C: a driver runs tsnative's main() with SIGINT sent to the whole process group (as a terminal's Ctrl-C is)
# at a chosen point of the study, so the test does not depend on timing.
INTERRUPT_DRIVER = """
import os, signal, sys
from tsnative.bench import run  # (tsnative.bench is the function: "import tsnative.bench.run as run" fails)

where = sys.argv[1]
original = {"latency": run._measure_latency, "cold": run.measure_in_fresh_process}
calls = {"latency": 0}

def latency(*args, **kwargs):
    calls["latency"] += 1
    if where == "second batch" and calls["latency"] == 2:
        os.killpg(0, signal.SIGINT)  # the first batch is measured; interrupted before the second
    return original["latency"](*args, **kwargs)

def cold(path, file, device, threads):
    if where == "cold load":
        # Ctrl-C half a second into the first fresh-process load (a Python child importing torch, which takes
        # longer): the child gets it too, as from a terminal.
        import threading
        threading.Timer(0.5, os.killpg, (0, signal.SIGINT)).start()
    return original["cold"](path, file, device, threads)

run._measure_latency = latency
run.measure_in_fresh_process = cold
from tsnative.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("where", ["second batch", "cold load"])
def test_bench_interrupted(conv_files: dict[str, Path], tmp_path: Path, where: str) -> None:
    out = tmp_path / "out"
    temp = tmp_path / "tmp"
    temp.mkdir()
    args = ["bench", str(conv_files["exported"]), "--batch", "1,2,4", "--budget", "0.2", "--out", str(out)]
    args += ["--cold-repeats", "1"] if where == "cold load" else ["--no-cold-loads"]
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPT_DRIVER, where, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(temp)},
        start_new_session=True,  # its own process group: the SIGINT reaches the driver and its children only
    )
    assert result.returncode == 130, result.stderr
    # The TorchScript deprecation note may come first; then the one line that says what happened.
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("tsnative: note:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr
    if where == "second batch":
        assert (
            lines[0]
            == f"tsnative bench: interrupted after 1 of 3 configurations; partial results in {out}/results.json"
        )
        results = json.loads((out / "results.json").read_text())
        assert results["interrupted"] == "after 1 of 3 configurations"
        assert {row["batch"] for row in results["latency"]} == {1}
        assert sorted(p.name for p in out.iterdir()) == [
            "latency_vs_batch.png",
            "load_times.png",
            "results.csv",
            "results.json",
            "speedup_vs_torchscript.png",
        ]
    else:
        assert lines[0] == "tsnative bench: interrupted after 0 of 3 configurations; nothing written"
        assert not out.exists()
    assert not list(temp.glob("tsnative-bench-*"))  # no exported files or temporary folders left behind


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--batch", "0"], "--batch: expected an integer >= 1, got 0"),
        (["--topk", "-1"], "--topk: expected an integer >= 1, got -1"),
        (["--threads", "0"], "--threads: expected an integer >= 1, got 0"),
        (["--iters", "1" + "0" * 30], "--iters: expected an integer >= 0, got 1" + "0" * 30),
        (["--precision", "int8"], "--precision: int8 not in {fp32,bf16,fp16}"),
        (["--warmup-shapes", "1xAx3"], "--warmup-shapes: expected a shape like 1x3x224x224, got 1xAx3"),
    ],
)
def test_ts_infer_usage_errors_are_one_short_line(
    conv_files: dict[str, Path], options: list[str], expected: str
) -> None:
    result = run_tool("ts-infer", conv_files["exported"], *options)
    assert result.returncode == 2, result.stderr
    line = one_error_line(result.stderr)
    assert expected in line
    assert len(line) < 200  # CLI11's own range checks printed their bounds as 309-digit numbers


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--epochs", "0"], "--epochs: expected an integer >= 1, got 0"),
        (["--lr", "-1"], "--lr: expected a number > 0, got -1"),
        (["--trainable", "some"], "--trainable: some not in {head,all}"),
    ],
)
def test_ts_train_usage_errors_are_one_short_line(tmp_path: Path, options: list[str], expected: str) -> None:
    base = ["--model", tmp_path / "m.pt", "--train", tmp_path / "t.txt", "--test", tmp_path / "t.txt"]
    result = run_tool("ts-train", *base, "--classes", "2", *options)
    assert result.returncode == 2, result.stderr
    line = one_error_line(result.stderr)
    assert expected in line and len(line) < 200


def test_tools_hint_at_their_own_spelling_of_the_cpu(conv_files: dict[str, Path]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("checks the hint on a machine without CUDA")
    result = run_tool("ts-infer", conv_files["exported"], "--device", "cuda")
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert 'use the CPU (device "cpu")' in line and 'device="cpu"' not in line


def test_submodules_and_the_native_module_load_in_any_order(tmp_path: Path) -> None:
    # The package imports its modules on first use; each still reaches torch before the native module, which also
    # imports torch itself: `import tsnative._C` first must work, as must tsnative.errors without an import of it.
    code = (
        "import numpy as np, torch, tsnative._C as C, tsnative;"
        "torch.jit.script(torch.nn.Linear(2, 2)).save('{path}');"
        "print(C.Engine('{path}', C.EngineOptions()).predict(np.ones((1, 2), np.float32)).shape,"
        " tsnative.errors.ModelLoadError.__name__, tsnative.engine.Engine is tsnative.Engine)"
    )
    for order in ("import tsnative._C", "import tsnative"):
        path = tmp_path / f"order_{order.split()[-1]}.pt"
        result = subprocess.run(
            [sys.executable, "-c", f"{order};" + code.format(path=path)], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["torch.Size([1,", "2])", "ModelLoadError", "True"]
