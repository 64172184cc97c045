"""The probe list: ways to make a call fail, each checked for a clean failure and an unharmed next call.

For every probe: the exception is of the expected class; its message is one line ("\\n" not in str(e)) that says
what was expected and what was given where that applies (a per-probe regex); it carries no C++ backtrace ("frame #",
"Exception raised from"); and the next good call (on the same engine, or a fresh call of the same API) still gives
the right answer, compared with eager PyTorch or Python TorchScript.

Three tables: Python API probes (in process), probes that must run in a child process because today they hang or
crash it (a FIFO, repr of a half-made Engine, a JPEG declaring 65500x65500 pixels), and the C++ tools' exit status
and stderr.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import struct
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor, nn

import tsnative
from conftest import python_reference, run_tool

BACKTRACE_MARKERS = ("frame #", "Exception raised from")
IMAGE_SIZE = 8


# --- models and files ---------------------------------------------------------------------------------------------


class Small(nn.Module):
    """x [N, 4] -> tanh(fc(x)) [N, 3]; exported by tsnative.export, so its input is recorded as float32 [N, 4]."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(self.fc(x))


class Raiser(nn.Module):
    """Raises from inside the model: a Python `raise ValueError` and a torch._assert."""

    def forward(self, x: Tensor) -> Tensor:
        if bool(x.sum() > 1000.0):
            raise ValueError("sum over 1000 is not allowed")
        torch._assert(x.shape[0] <= 8, "batch of at most 8 rows")
        return x * 2.0 + 1.0


class Mismatch(nn.Module):
    """Linear(5, 4): called with 4 features, it fails inside (mat1 and mat2 shapes cannot be multiplied)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(5, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(x)


class TinyClassifier(nn.Module):
    """A fine-tunable classifier with an `fc` head, for the data probes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG signature and header declaring width x height RGB pixels, with 100 bytes of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + png_chunk(b"IEND", b"")
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is patched to declare width x height pixels."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 128, np.uint8)).save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@dataclasses.dataclass
class World:
    """Everything the probes use, made once per module in tmp_path."""

    root: Path
    small: Path  # Small exported by tsnative.export (metadata: x float32 [N, 4])
    small_model: Small
    engine: tsnative.Engine
    raiser: Path
    raiser_engine: tsnative.Engine
    mismatch: Path
    mismatch_engine: tsnative.Engine
    classifier: Path  # TinyClassifier exported unfrozen (fine-tunable)
    images: Path  # image folder root/<class>/<i>.png, two classes
    good_x: Tensor

    def fresh(self, name: str) -> Path:
        """A new empty folder for one probe's files."""
        folder = self.root / name
        folder.mkdir(exist_ok=True)
        return folder


def write_image_folder(root: Path, classes: int = 2, per_class: int = 3) -> Path:
    rng = np.random.default_rng(0)
    for label in range(classes):
        folder = root / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("probes")
    torch.manual_seed(0)
    small_model = Small().eval()
    small = root / "small.pt"
    tsnative.export(small_model, torch.randn(2, 4), small)
    raiser = root / "raiser.pt"
    torch.jit.script(Raiser().eval()).save(str(raiser))
    mismatch = root / "mismatch.pt"
    torch.jit.script(Mismatch().eval()).save(str(mismatch))
    classifier = root / "classifier.pt"
    tsnative.export(TinyClassifier(), torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE), classifier, optimize=False)
    return World(
        root=root,
        small=small,
        small_model=small_model,
        engine=tsnative.Engine(small),
        raiser=raiser,
        raiser_engine=tsnative.Engine(raiser),
        mismatch=mismatch,
        mismatch_engine=tsnative.Engine(mismatch),
        classifier=classifier,
        images=write_image_folder(root / "images"),
        good_x=torch.randn(3, 4),
    )


# --- the next good call ---------------------------------------------------------------------------------------------


def close(native: Tensor, expected: Tensor, what: str) -> None:
    torch.testing.assert_close(native, expected, rtol=1e-4, atol=1e-5, msg=lambda m: f"{what}: {m}")


def good_predict(w: World) -> None:
    """The probed engine's next good calls (three, so a call that poisons a later one is caught too)."""
    expected = python_reference(w.small)(w.good_x)
    for i in range(3):
        close(w.engine.predict(w.good_x), expected, f"good call {i + 1} on the same engine")


def good_load(w: World) -> None:
    engine = tsnative.Engine(w.small)
    expected = python_reference(w.small)(w.good_x)
    for i in range(2):
        close(engine.predict(w.good_x), expected, f"good call {i + 1} on a fresh engine")


def good_raiser(w: World) -> None:
    x = torch.randn(2, 4)
    for i in range(3):
        close(w.raiser_engine.predict(x), x * 2.0 + 1.0, f"good call {i + 1} on the same engine")


def good_mismatch(w: World) -> None:
    x = torch.randn(2, 5)
    expected = python_reference(w.mismatch)(x)
    for i in range(3):
        close(w.mismatch_engine.predict(x), expected, f"good call {i + 1} on the same engine")


def good_export(w: World) -> None:
    path = w.fresh("good_export") / "small.pt"
    tsnative.export(w.small_model, torch.randn(2, 4), path)
    with torch.no_grad():
        expected = w.small_model(w.good_x)
    close(tsnative.Engine(path).predict(w.good_x), expected, "a good export's engine")


def good_images(w: World) -> None:
    loaded = tsnative.load_images(w.images, 2, size=IMAGE_SIZE)
    assert loaded.images.shape == (6, 3, IMAGE_SIZE, IMAGE_SIZE) and loaded.labels.tolist() == [0, 0, 0, 1, 1, 1]


def good_finetune(w: World) -> None:
    out = w.fresh("good_finetune") / "best.pt"
    history = finetune(w, w.images, out)
    assert len(history) == 1 and out.exists()
    x = torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    close(tsnative.Engine(out).predict(x), python_reference(out)(x), "the fine-tuned file")


def finetune(w: World, data: Path, out: Path | str) -> tsnative.FinetuneHistory:
    return tsnative.finetune(
        w.classifier, data, data, 2, epochs=1, batch_size=4, size=IMAGE_SIZE, out=out, progress=False
    )


# --- the failing calls ---------------------------------------------------------------------------------------------


def corrupt_dataset(w: World, name: str, data: bytes) -> Path:
    """A copy of the good image folder with one bad file added to class1."""
    root = write_image_folder(w.fresh("dataset_" + name.replace(".", "_")) / "data")
    (root / "class1" / name).write_bytes(data)
    return root


def truncated(w: World) -> Path:
    data = w.small.read_bytes()
    path = w.fresh("truncated") / "truncated.pt"
    path.write_bytes(data[: len(data) // 2])
    return path


def checkpoint(w: World) -> Path:
    path = w.fresh("checkpoint") / "checkpoint.pt"
    torch.save(w.small_model.state_dict(), path)
    return path


def random_bytes(w: World) -> Path:
    path = w.fresh("random") / "random.pt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    return path


def empty_file(w: World) -> Path:
    path = w.fresh("empty") / "empty.pt"
    path.write_bytes(b"")
    return path


def wrong_sha256(w: World) -> str:
    return "0" * 64


@dataclasses.dataclass(frozen=True)
class Probe:
    id: str
    call: Callable[[World], Any]  # the call that must fail
    raises: tuple[type[BaseException], ...]
    message: str  # a regex str(e) must contain: what was expected and what was given, where that applies
    recover: Callable[[World], None]  # the next good call, checking its answer
    known: str = ""  # what happens today when it is known to fail (documentation only)


PROBES = [
    # Engine construction: options.
    Probe(
        "warmup_wrong_count",
        lambda w: tsnative.Engine(w.small, warmup_shapes=[((1, 4), (1, 4))]),
        (ValueError,),
        r"warmup_shapes.*expected 1 .*got 2",
        good_load,
    ),
    Probe(
        "warmup_negative_size",
        lambda w: tsnative.Engine(w.small, warmup_shapes=[(-1, 4)]),
        (ValueError,),
        r"warmup_shapes.*-1",
        good_load,
        known="the message shows the shape as [N, 4], not the -1 that was given",
    ),
    Probe(
        "warmup_impossible_allocation",
        lambda w: tsnative.Engine(w.small, warmup_shapes=[(2**40, 2**20)]),
        (ValueError, MemoryError),
        r"warmup_shapes.*(1099511627776|2\*\*40)",
        good_load,
        known="plain RuntimeError '[enforce fail at alloc_cpu.cpp:127] ... DefaultCPUAllocator: can't allocate'",
    ),
    Probe(
        "warmup_not_shapes",
        lambda w: tsnative.Engine(w.small, warmup_shapes=["1x4"]),
        (TypeError, ValueError),
        r"warmup_shapes",
        good_load,
    ),
    Probe(
        "device_gpu",
        lambda w: tsnative.Engine(w.small, device="gpu"),
        (ValueError,),
        r'expected.*"cpu".*"gpu"',
        good_load,
    ),
    Probe(
        "device_empty",
        lambda w: tsnative.Engine(w.small, device=""),
        (ValueError,),
        r'expected.*"cpu".*got ""',
        good_load,
    ),
    Probe(
        "device_cuda_99",
        lambda w: tsnative.Engine(w.small, device="cuda:99"),
        (tsnative.DeviceUnavailableError,),
        r"cuda:99",
        good_load,
    ),
    Probe(
        "device_cuda_negative",
        lambda w: tsnative.Engine(w.small, device="cuda:-1"),
        (ValueError,),
        r'"cuda:-1"',
        good_load,
    ),
    Probe(
        "precision_unknown",
        lambda w: tsnative.Engine(w.small, precision="fp64"),
        (ValueError,),
        r'precision.*"fp32".*"fp64"',
        good_load,
    ),
    Probe("threads_negative", lambda w: tsnative.Engine(w.small, threads=-1), (ValueError,), r"threads.*-1", good_load),
    Probe(
        "method_unknown",
        lambda w: tsnative.Engine(w.small, method="predict_proba"),
        (ValueError,),
        r"'predict_proba'.*forward",
        good_load,
    ),
    Probe(
        "sha256_mismatch",
        lambda w: tsnative.Engine(w.small, sha256=wrong_sha256(w)),
        (tsnative.ModelLoadError,),
        r"expected 0{64}.*[0-9a-f]{64}",
        good_load,
    ),
    Probe(
        "sha256_not_hex",
        lambda w: tsnative.Engine(w.small, sha256="not-a-digest"),
        (ValueError,),
        r"sha256.*(64|hex).*not-a-digest",
        good_load,
        known="ModelLoadError 'sha256 mismatch: expected not-a-digest, the file has ...' (a malformed argument)",
    ),
    # Engine construction: the file.
    Probe(
        "file_missing",
        lambda w: tsnative.Engine(w.root / "absent.pt"),
        (FileNotFoundError,),
        r"absent\.pt",
        good_load,
    ),
    Probe(
        "file_directory", lambda w: tsnative.Engine(w.fresh("dir")), (tsnative.ModelLoadError,), r"directory", good_load
    ),
    Probe("file_empty", lambda w: tsnative.Engine(empty_file(w)), (tsnative.ModelLoadError,), r"empty", good_load),
    Probe(
        "file_truncated_archive",
        lambda w: tsnative.Engine(truncated(w)),
        (tsnative.ModelLoadError,),
        r"truncated\.pt.*(truncated|corrupt)",
        good_load,
    ),
    Probe(
        "file_torch_save_checkpoint",
        lambda w: tsnative.Engine(checkpoint(w)),
        (tsnative.ModelLoadError,),
        r"torch\.save checkpoint",
        good_load,
    ),
    Probe(
        "file_random_bytes",
        lambda w: tsnative.Engine(random_bytes(w)),
        (tsnative.ModelLoadError,),
        r"random\.pt.*not a zip",
        good_load,
    ),
    # predict: inputs.
    Probe(
        "predict_int_tensor_for_float",
        lambda w: w.engine.predict(torch.ones(2, 4, dtype=torch.long)),
        (TypeError,),
        r"expected float32.*got int64",
        good_predict,
    ),
    Probe(
        "predict_wrong_rank",
        lambda w: w.engine.predict(torch.ones(4)),
        (ValueError,),
        r"expected float32 tensor of shape \[N, 4\], got float32 \[4\]",
        good_predict,
    ),
    Probe(
        "predict_wrong_fixed_dim",
        lambda w: w.engine.predict(torch.ones(2, 5)),
        (ValueError,),
        r"\[N, 4\].*\[2, 5\]",
        good_predict,
    ),
    Probe(
        "predict_dict_for_tensor",
        lambda w: w.engine.predict({"x": torch.ones(2, 4)}),
        (TypeError,),
        r"expected Tensor, got dict",
        good_predict,
    ),
    Probe(
        "predict_too_many_arguments",
        lambda w: w.engine.predict(torch.ones(2, 4), torch.ones(2, 4)),
        (TypeError,),
        r"takes 1 argument.*got 2",
        good_predict,
    ),
    Probe(
        "predict_unknown_keyword",
        lambda w: w.engine.predict(inputs=torch.ones(2, 4)),
        (TypeError,),
        r"'inputs'.*x",
        good_predict,
    ),
    Probe(
        "predict_none_for_tensor",
        lambda w: w.engine.predict(None),
        (TypeError,),
        r"expected Tensor, got None",
        good_predict,
    ),
    Probe("predict_no_arguments", lambda w: w.engine.predict(), (TypeError,), r"missing.*'x'", good_predict),
    Probe(
        "predict_numpy_float64",
        lambda w: w.engine.predict(np.ones((2, 4))),
        (TypeError,),
        r"expected float32.*got float64",
        good_predict,
    ),
    Probe(
        "predict_numpy_strings",
        lambda w: w.engine.predict(np.array([["a", "b", "c", "d"]])),
        (TypeError,),
        r"(str|<U1).*(Tensor|float32)",
        good_predict,
        known="torch's own text: can't convert np.ndarray of type numpy.str_ (no argument named, nothing expected)",
    ),
    Probe(
        "predict_numpy_objects",
        lambda w: w.engine.predict(np.array([[1, "a", None, 2.0]], dtype=object)),
        (TypeError,),
        r"object.*(Tensor|float32)",
        good_predict,
    ),
    Probe(
        "predict_impossible_allocation_in_model",
        lambda w: w.engine.predict(torch.zeros(1, 4).expand(2**40, 4)),
        (tsnative.InferenceError, MemoryError),
        r"(allocate|memory).*\d{10,} bytes",
        good_predict,
        known="InferenceError carrying the TorchScript traceback (many lines)",
    ),
    Probe(
        "time_zero_iterations",
        lambda w: w.engine.time(w.good_x, iterations=0),
        (ValueError,),
        r"iterations >= 1.*got 0",
        good_predict,
    ),
    # predict: the model itself fails.
    Probe(
        "model_raises_value_error",
        lambda w: w.raiser_engine.predict(torch.full((2, 4), 500.0)),
        (tsnative.InferenceError,),
        r"ValueError.*sum over 1000 is not allowed",
        good_raiser,
        known="the message is the TorchScript traceback (many lines)",
    ),
    Probe(
        "model_torch_assert",
        lambda w: w.raiser_engine.predict(torch.zeros(9, 4)),
        (tsnative.InferenceError,),
        r"batch of at most 8 rows",
        good_raiser,
    ),
    Probe(
        "model_shape_mismatch_inside",
        lambda w: w.mismatch_engine.predict(torch.ones(2, 4)),
        (tsnative.InferenceError,),
        r"mat1 and mat2 shapes cannot be multiplied \(2x4 and 5x4\)",
        good_mismatch,
    ),
    # Export: unwritable destinations and bad options.
    Probe(
        "export_into_proc",
        lambda w: tsnative.export(w.small_model, torch.randn(2, 4), "/proc/x/m.pt"),
        (OSError, tsnative.ExportError),
        r"/proc/x",
        good_export,
    ),
    Probe(
        "export_into_missing_folder",
        lambda w: tsnative.export(w.small_model, torch.randn(2, 4), w.root / "no_such_folder" / "m.pt"),
        (OSError, tsnative.ExportError),
        r"no_such_folder",
        good_export,
    ),
    Probe(
        "export_onto_a_directory",
        lambda w: tsnative.export(w.small_model, torch.randn(2, 4), w.fresh("export_target_dir")),
        (OSError, tsnative.ExportError),
        r"export_target_dir",
        good_export,
    ),
    Probe(
        "export_unknown_mode",
        lambda w: tsnative.export(w.small_model, torch.randn(2, 4), w.root / "m.pt", mode="jit"),
        (ValueError,),
        r"mode.*\"trace\".*'jit'",
        good_export,
    ),
    # Fine-tuning: unwritable output, bad data.
    Probe(
        "finetune_out_into_proc",
        lambda w: finetune(w, w.images, "/proc/x/best.pt"),
        (OSError, tsnative.TsnativeError, ValueError),
        r"/proc/x",
        good_finetune,
        known="plain RuntimeError from std::filesystem (create_directories), not a tsnative or OS error",
    ),
    Probe(
        "finetune_out_is_a_directory",
        lambda w: finetune(w, w.images, w.fresh("finetune_out_dir")),
        (OSError, tsnative.TsnativeError, ValueError),
        r"finetune_out_dir",
        good_finetune,
    ),
    Probe(
        "data_corrupt_png",
        lambda w: tsnative.load_images(corrupt_dataset(w, "bad.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64), 2, size=8),
        (tsnative.DataError,),
        r"bad\.png.*PNG",
        good_images,
    ),
    Probe(
        "data_corrupt_jpeg",
        lambda w: tsnative.load_images(corrupt_dataset(w, "bad.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 64), 2, size=8),
        (tsnative.DataError,),
        r"bad\.jpg.*JPEG",
        good_images,
    ),
    Probe(
        "data_png_declaring_a_million_squared_pixels",
        lambda w: tsnative.load_images(corrupt_dataset(w, "huge.png", png_declaring(10**6, 10**6)), 2, size=8),
        (tsnative.DataError,),
        r"huge\.png",
        good_images,
    ),
    Probe(
        "finetune_corrupt_image",
        lambda w: finetune(w, corrupt_dataset(w, "broken.png", b"not an image at all"), w.root / "never.pt"),
        (tsnative.DataError,),
        r"broken\.png",
        good_finetune,
    ),
]


def check_message(error: BaseException, probe_message: str) -> None:
    """One line, no C++ backtrace, and the probe's regex (what was expected and what was given) found in it."""
    text = str(error)
    if "\n" in text:
        raise AssertionError(f"the message is {len(text.splitlines())} lines, expected one:\n{text[:1500]}")
    for marker in BACKTRACE_MARKERS:
        if marker in text:
            raise AssertionError(f"the message carries a C++ backtrace ({marker!r}): {text[:500]}")
    if not re.search(probe_message, text):
        raise AssertionError(f"the message does not match {probe_message!r}: {text[:500]}")


@pytest.mark.parametrize("probe", PROBES, ids=[p.id for p in PROBES])
def test_probe(probe: Probe, world: World) -> None:
    if probe.id == "device_cuda_99" and torch.cuda.is_available() and torch.cuda.device_count() > 99:
        pytest.skip("this machine has 100 GPUs")
    try:
        result = probe.call(world)
    except BaseException as error:
        caught = error
    else:
        pytest.fail(f"{probe.id}: no exception (returned {type(result).__name__})", pytrace=False)
    problems = []
    first = str(caught).strip().splitlines()[0] if str(caught).strip() else ""
    if not isinstance(caught, probe.raises):
        expected = " or ".join(c.__name__ for c in probe.raises)
        problems.append(f"expected {expected}, got {type(caught).__name__}: {first}")
    try:
        check_message(caught, probe.message)
    except AssertionError as failure:
        problems.append(str(failure))
    try:  # the next good call, also when the failure itself was not clean: is the engine or API still usable?
        probe.recover(world)
    except BaseException as failure:
        text = str(failure).strip()
        problems.append(f"the next good call failed: {type(failure).__name__}: {text.splitlines()[0] if text else ''}")
    assert not problems, "\n".join(problems)


def test_enough_probes() -> None:
    assert len(PROBES) + len(CHILD_PROBES) + len(CLI_PROBES) >= 30


def test_cpu_0_is_the_cpu(world: World) -> None:
    """Not a failure: "cpu:0" names the CPU (as torch.device does)."""
    engine = tsnative.Engine(world.small, device="cpu:0")
    close(engine.predict(world.good_x), python_reference(world.small)(world.good_x), "device cpu:0")


def test_cuda_without_cuda(world: World) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(tsnative.DeviceUnavailableError) as caught:
        tsnative.Engine(world.small, device="cuda")
    check_message(caught.value, r'"cuda".*not available.*device "cpu"')
    good_load(world)


# --- probes in a child process: today they hang or crash the process ------------------------------------------------

CHILD_PRELUDE = """
import json, os, sys, warnings
warnings.filterwarnings("ignore")
import torch, tsnative
def report(error):
    print(json.dumps({"type": type(error).__name__, "classes": [c.__name__ for c in type(error).__mro__],
                      "message": str(error)}), flush=True)
"""


@dataclasses.dataclass(frozen=True)
class ChildProbe:
    id: str
    setup: Callable[[World], dict[str, str]]  # names -> paths the child's code reads as ARGS[name]
    code: str  # runs the failing call inside try/except, calling report(error)
    raises: tuple[str, ...]  # class names, one of which must be among the error's classes
    message: str
    memory_limit_bytes: int | None = None
    known: str = ""


def make_fifo(w: World) -> dict[str, str]:
    fifo = w.fresh("fifo") / "model.pt"
    if not fifo.exists():
        os.mkfifo(fifo)
    return {"path": str(fifo)}


def make_huge_jpeg_dataset(w: World) -> dict[str, str]:
    return {"data": str(corrupt_dataset(w, "huge.jpg", jpeg_declaring(65500, 65500)))}


CHILD_PROBES = [
    ChildProbe(
        # HANGS TODAY: opening a FIFO for reading blocks until a writer comes; the engine must refuse a file that is
        # not a regular file instead of waiting forever.
        "fifo_path_returns_within_seconds",
        make_fifo,
        "try:\n    tsnative.Engine(ARGS['path'])\nexcept BaseException as error:\n    report(error)",
        ("ModelLoadError",),
        r"model\.pt.*(regular file|FIFO|pipe)",
        known="hangs (killed after 20 s)",
    ),
    ChildProbe(
        # repr() of an Engine whose __init__ raised (what pytest, a debugger or a logger does with a traceback's
        # locals) dereferenced the missing C++ engine (SIGSEGV); now no half-made engine stays reachable.
        "repr_of_an_engine_whose_load_failed",
        lambda w: {"path": str(w.root / "absent.pt")},
        textwrap.dedent("""
            try:
                tsnative.Engine(ARGS['path'])
            except FileNotFoundError as error:
                # No half-made engine may be reachable from the traceback (if one is, its repr must not crash).
                half_made = error.__traceback__.tb_next.tb_frame.f_locals.get('self', "no half-made engine")
                try:
                    text = repr(half_made)
                    print(json.dumps({"type": "none", "classes": [], "message": text}), flush=True)
                except BaseException as error:
                    report(error)
        """),
        ("none", "RuntimeError", "ValueError"),
        r".",
        known="SIGSEGV",
    ),
    ChildProbe(
        # A 700-byte JPEG declaring 65500 x 65500 pixels: 12.9 GB of RGB. Run with a 3 GiB data limit, so that
        # allocating it fails instead of taking the machine's memory.
        "data_jpeg_declaring_65500_squared_pixels",
        make_huge_jpeg_dataset,
        "try:\n    tsnative.load_images(ARGS['data'], 2, size=8)\nexcept BaseException as error:\n    report(error)",
        ("DataError",),
        r"huge\.jpg.*65500",
        memory_limit_bytes=3 << 30,
        known="DataError 'huge.jpg: std::bad_alloc' under the limit; without it, >20 s and up to 12.9 GB",
    ),
    ChildProbe(
        # A PNG declaring 30000 x 30000 pixels (2.7 GB of RGB), under libpng's own limits: refused from its header,
        # naming the size, rather than allocated and then found to be truncated.
        "data_png_declaring_30000_squared_pixels",
        lambda w: {"data": str(corrupt_dataset(w, "big.png", png_declaring(30000, 30000)))},
        "try:\n    tsnative.load_images(ARGS['data'], 2, size=8)\nexcept BaseException as error:\n    report(error)",
        ("DataError",),
        r"big\.png.*30000",
        memory_limit_bytes=3 << 30,
    ),
]


def run_child(code: str, args: dict[str, str], memory_limit_bytes: int | None, timeout: float = 20.0) -> Any:
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if memory_limit_bytes:
            resource.setrlimit(resource.RLIMIT_DATA, (memory_limit_bytes, memory_limit_bytes))

    program = CHILD_PRELUDE + f"ARGS = {args!r}\n" + code
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=timeout, preexec_fn=limit
    )


@pytest.mark.parametrize("probe", CHILD_PROBES, ids=[p.id for p in CHILD_PROBES])
def test_child_probe(probe: ChildProbe, world: World) -> None:
    args = probe.setup(world)
    try:
        child = run_child(probe.code, args, probe.memory_limit_bytes)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{probe.id}: the call did not return within 20 s (killed)", pytrace=False)
    assert child.returncode == 0, f"the child process died (status {child.returncode}): {child.stderr[-1500:]}"
    lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the call did not fail: {child.stdout[-500:]} {child.stderr[-500:]}"
    outcome = json.loads(lines[-1])
    assert set(probe.raises) & set(outcome["classes"] or [outcome["type"]]), (
        f"expected {' or '.join(probe.raises)}, got {outcome['type']}: {outcome['message'][:300]}"
    )
    error = RuntimeError(outcome["message"])
    check_message(error, probe.message)
    good_images(world) if probe.id.startswith("data_") else good_load(world)


# --- the C++ tools ----------------------------------------------------------------------------------------------


def big_npy(w: World) -> Path:
    """A .npy whose header declares float32 (2**40,): 4 TiB, in a 128-byte file."""
    path = w.fresh("npy") / "huge.npy"
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }"
    header += " " * (127 - 10 - len(header)) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    return path


def pool_model(w: World) -> Path:
    """A model without export metadata: ts-infer makes 3x224x224 images for it; --batch scales that."""
    path = w.root / "pool.pt"
    if not path.exists():
        torch.jit.script(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()).save(str(path))
    return path


@dataclasses.dataclass(frozen=True)
class CliProbe:
    id: str
    tool: str
    args: Callable[[World], list[str | Path]]
    status: int
    message: str  # regex over the stderr's error line
    known: str = ""


CLI_PROBES = [
    CliProbe("ts_infer_missing_file", "ts-infer", lambda w: [w.root / "absent.pt"], 1, r"absent\.pt"),
    # Opening a FIFO for reading blocks until a writer comes: refused from its type, before open() (the
    # subprocess timeout bounds the test if it hangs).
    CliProbe("ts_infer_fifo", "ts-infer", lambda w: [make_fifo(w)["path"]], 1, r"model\.pt.*FIFO.*not a regular file"),
    CliProbe("ts_infer_directory", "ts-infer", lambda w: [w.fresh("cli_dir")], 1, r"cli_dir.*directory"),
    CliProbe("ts_infer_random_bytes", "ts-infer", lambda w: [random_bytes(w)], 1, r"random\.pt"),
    CliProbe(
        # 10,000,000 images of 3x224x224 float32: 6 TB, impossible anywhere (100000 would be 60 GB, which a large
        # machine could actually allocate and fill).
        "ts_infer_impossible_batch",
        "ts-infer",
        lambda w: [pool_model(w), "--batch", "10000000"],
        1,
        r"(allocate|memory)",
        known="exit 1, but the C++ backtrace of c10::Error on stderr",
    ),
    CliProbe(
        "ts_infer_npy_declaring_4_tib",
        "ts-infer",
        lambda w: [w.small, "--input", big_npy(w)],
        1,
        r"huge\.npy",
        known="allocates from the header before reading: c10 allocation error with its backtrace",
    ),
    CliProbe(
        "ts_infer_npy_wrong_dtype",
        "ts-infer",
        lambda w: [w.small, "--input", npy_file(w, np.ones((2, 4), np.float16))],
        1,
        r"float16|<f2",
    ),
    CliProbe(
        "ts_infer_wrong_input_shape",
        "ts-infer",
        lambda w: [w.small, "--input", npy_file(w, np.ones((2, 5), np.float32))],
        1,
        r"\[N, 4\].*\[2, 5\]",
    ),
    CliProbe("ts_infer_unknown_flag", "ts-infer", lambda w: [w.small, "--bogus"], 2, r"--bogus"),
    CliProbe("ts_infer_bad_shape", "ts-infer", lambda w: [w.small, "--shape", "2by4"], 2, r"2by4"),
    CliProbe("ts_infer_bad_device", "ts-infer", lambda w: [w.small, "--device", "gpu"], 1, r"gpu"),
    CliProbe("ts_infer_bad_sha256", "ts-infer", lambda w: [w.small, "--sha256", "0" * 64], 1, r"0{64}"),
    CliProbe(
        "ts_train_missing_model",
        "ts-train",
        lambda w: ["--model", w.root / "absent.pt", "--train", w.images, "--test", w.images, "--classes", "2"],
        1,
        r"absent\.pt",
    ),
    CliProbe(
        "ts_train_zero_classes",
        "ts-train",
        lambda w: ["--model", w.classifier, "--train", w.images, "--test", w.images, "--classes", "0"],
        2,
        r"classes",
    ),
    CliProbe(
        "ts_train_out_into_proc",
        "ts-train",
        lambda w: [
            *("--model", w.classifier, "--train", w.images, "--test", w.images, "--classes", "2"),
            *("--epochs", "1", "--size", str(IMAGE_SIZE), "--out", "/proc/x/best.pt"),
        ],
        1,
        r"/proc/x",
    ),
]


def npy_file(w: World, array: np.ndarray) -> Path:
    path = w.fresh("npy") / f"x_{array.dtype}_{'x'.join(map(str, array.shape))}.npy"
    np.save(path, array)
    return path


@pytest.mark.parametrize("probe", CLI_PROBES, ids=[p.id for p in CLI_PROBES])
def test_cli_probe(probe: CliProbe, world: World) -> None:
    result = run_tool(probe.tool, *probe.args(world), timeout=60)
    stderr = result.stderr.strip()
    assert result.returncode == probe.status, (
        f"expected exit {probe.status}, got {result.returncode}; stderr: {stderr[:1000]}"
    )
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("usage:")]
    assert len(lines) == 1, f"expected one error line on stderr, got {len(lines)}:\n{stderr[:2000]}"
    for marker in (*BACKTRACE_MARKERS, "Traceback"):
        assert marker not in stderr, f"stderr carries {marker!r}: {stderr[:500]}"
    assert re.search(probe.message, lines[0]), f"stderr does not match {probe.message!r}: {lines[0][:500]}"
    # The tool still works on a good file.
    good = run_tool("ts-infer", world.small, "--json")
    assert good.returncode == 0, good.stderr
