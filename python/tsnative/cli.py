"""The `tsnative` command line: export a torchvision model, inspect an exported file, fine-tune one, hand one to
Triton.

tsnative export resnet18 r18.pt --mode script
tsnative info r18.pt
tsnative finetune --model r18.pt --train train.txt --test test.txt --classes 10 --out best.pt
tsnative triton r18.pt --repo models
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Nothing here imports torch (seconds): each command imports what it needs once its arguments are parsed, so
# `tsnative --help`, `--version` and usage errors answer at once.
from ._version import __version__


def _integer(minimum: int, expected: str) -> Callable[[str], int]:
    """argparse type: an integer >= `minimum`, refused with a one-line usage error naming `expected` otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


_count = _integer(1, "a positive integer")  # sizes and counts
_non_negative = _integer(0, "a non-negative integer")  # --max-batch-size and --queue-delay-us, where 0 means none


def _positive_number(text: str) -> float:
    """argparse type for budgets and fractions: a positive number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _counts(text: str) -> list[int]:
    """argparse type for --batch: comma-separated positive integers."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers like 1,8,32, got {text!r}"
        ) from None
    if any(value < 1 for value in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers like 1,8,32, got {text!r}")
    return values


def _choices(allowed: Sequence[str], pattern: str) -> Callable[[str], list[str]]:
    """argparse type for comma-separated names, each in `allowed` or matching `pattern` (e.g. cuda:1)."""

    def parse(text: str) -> list[str]:
        values = text.split(",")
        for value in values:
            if not re.fullmatch(pattern, value):
                raise argparse.ArgumentTypeError(f"expected {', '.join(allowed)} (comma-separated), got {value!r}")
        return values

    return parse


def _one_device(text: str) -> str:
    """argparse type for a single device: cpu, cuda or cuda:N."""
    if not re.fullmatch(r"cpu|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tsnative", description="Take a PyTorch model out of Python.")
    parser.add_argument("--version", action="version", version=f"tsnative {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    export_parser = commands.add_parser(
        "export",
        help="export a torchvision classification model (random weights) to TorchScript, verified",
        description="Export a torchvision classification model with random weights (nothing is downloaded) to a "
        "TorchScript file, verified against eager PyTorch through the native engine.",
    )
    export_parser.add_argument("model", help="torchvision model name, e.g. resnet18, mobilenet_v3_small")
    export_parser.add_argument("out", type=Path, help="the file to write: .pt (TorchScript) or .pt2 (AOTInductor)")
    export_parser.add_argument("--mode", choices=["script", "trace", "auto"], default="script")
    export_parser.add_argument("--batch", type=_count, default=2, help="batch size of the example input (default 2)")
    export_parser.add_argument("--size", type=_count, default=224, help="image height and width (default 224)")
    export_parser.add_argument("--classes", type=_count, default=1000, help="number of output classes (default 1000)")
    export_parser.add_argument("--no-optimize", action="store_true", help="do not freeze the module")
    export_parser.add_argument(
        "--format",
        choices=["torchscript", "pt2"],
        help="torchscript, or pt2: an AOTInductor package compiled for this machine (default: pt2 for a .pt2 path)",
    )
    export_parser.add_argument("--seed", type=int, default=0, help="seed of the random weights and inputs")

    bench_parser = commands.add_parser(
        "bench",
        help="the Python-vs-C++ study: load time and latency per path, batch size, mode and device",
        description="Measure one model along every path (Python eager, Python TorchScript, tsnative.Engine from "
        "Python, the C++ loop, ONNX Runtime) and write results.json, results.csv and plots.",
    )
    bench_parser.add_argument("model", help="torchvision model name (random weights) or a TorchScript .pt file")
    modes = _choices(["script", "trace", "auto"], "script|trace|auto")
    bench_parser.add_argument("--mode", type=modes, default="script,trace", help="export modes, comma-separated")
    devices = _choices(["cpu", "cuda", "cuda:N"], r"cpu|cuda(:\d+)?")
    bench_parser.add_argument("--device", type=devices, default="cpu", help="devices, comma-separated: cpu,cuda")
    bench_parser.add_argument("--batch", type=_counts, default="1,2,4,8,16,32", help="batch sizes, comma-separated")
    bench_parser.add_argument("--threads", type=_count, default=None, help="intra-op threads for every path")
    bench_parser.add_argument(
        "--size", type=_count, default=None, help="input height and width (default: a file's recorded shape, or 224)"
    )
    bench_parser.add_argument("--out", type=Path, default=Path("bench-out"), help="output folder (bench-out)")
    bench_parser.add_argument("--budget", type=_positive_number, default=30.0, help="seconds per configuration at most")
    bench_parser.add_argument(
        "--target-spread", type=_positive_number, default=0.05, help="stop when IQR/median is below"
    )
    bench_parser.add_argument("--no-onnx", action="store_true", help="leave ONNX Runtime out")
    bench_parser.add_argument("--no-pt2", action="store_true", help="leave the AOTInductor (.pt2) paths out")
    bench_parser.add_argument("--no-cold-loads", action="store_true", help="skip fresh-process load timings")
    bench_parser.add_argument("--cold-repeats", type=_count, default=3, help="fresh processes per cold load (3)")

    finetune_parser = commands.add_parser(
        "finetune",
        help="fine-tune a TorchScript classifier in C++ (the same core and options as ts-train)",
        description="Replace the model's classifier head with one for --classes classes, train it (or every "
        "parameter) on labelled images, evaluate after each epoch and save the best epoch to --out. Data: a map file "
        "(image_path<TAB>class_index per line) or an image folder (root/<class>/<image>).",
    )
    finetune_parser.add_argument("--model", type=Path, required=True, help="TorchScript file, saved unfrozen")
    finetune_parser.add_argument("--train", type=Path, required=True, help="training map file or image folder")
    finetune_parser.add_argument("--test", type=Path, required=True, help="test map file or image folder")
    finetune_parser.add_argument("--classes", type=_count, required=True, help="classes of the new head")
    finetune_parser.add_argument("--epochs", type=_count, default=5, help="passes over the training data (5)")
    finetune_parser.add_argument("--lr", type=float, default=1e-3, help="learning rate (0.001)")
    finetune_parser.add_argument("--batch", type=_count, default=32, help="batch size (32)")
    finetune_parser.add_argument("--size", type=_count, default=224, help="images are resized to size x size (224)")
    finetune_parser.add_argument("--trainable", choices=["head", "all"], default="head", help="what trains (head)")
    finetune_parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam", help="adam or sgd (adam)")
    finetune_parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (0.9)")
    finetune_parser.add_argument("--weight-decay", type=float, default=0.0, help="L2 penalty (0)")
    finetune_parser.add_argument("--head", default="fc", help="the classifier submodule to replace (fc)")
    finetune_parser.add_argument("--seed", type=int, default=0, help="seed of the head and the shuffling (0)")
    finetune_parser.add_argument("--threads", type=_count, default=None, help="intra-op threads")
    finetune_parser.add_argument("--out", type=Path, default=Path("best.pt"), help="the best model's file (best.pt)")
    finetune_parser.add_argument(
        "--json", action="store_true", help="print the history as JSON at the end (progress goes to stderr)"
    )

    info_parser = commands.add_parser("info", help="show what an exported file expects and records")
    info_parser.add_argument("path", type=Path)
    info_parser.add_argument("--json", action="store_true", help="print the recorded metadata as JSON")

    triton_parser = commands.add_parser(
        "triton",
        help="write a Triton Inference Server model repository entry (PyTorch backend) for an exported file",
        description="Write REPO/<name>/config.pbtxt and REPO/<name>/<version>/model.pt (model.pt2 for a .pt2 "
        "package) for Triton's PyTorch backend: platform pytorch_libtorch or torch_aoti, inputs INPUT__0... and "
        "outputs OUTPUT__0... with the dtypes and shapes tsnative.export recorded, max_batch_size and dynamic "
        "batching from its dynamic batch, an instance group for the device. The model file is copied unchanged.",
    )
    triton_parser.add_argument("model", type=Path, help="a .pt or .pt2 file written by tsnative.export")
    triton_parser.add_argument(
        "--repo", type=Path, required=True, help="the model repository folder (created if missing)"
    )
    triton_parser.add_argument("--name", help="the model's name in the repository (default: the file's stem)")
    triton_parser.add_argument(
        "--max-batch-size",
        type=_non_negative,
        default=None,
        help="largest batch Triton forms from requests; 0: no batching (default: 8 for a .pt with a dynamic batch, "
        "else 0)",
    )
    triton_parser.add_argument(
        "--device",
        type=_one_device,
        default=None,
        help="cpu, cuda (every GPU) or cuda:N (default: cpu; a .pt2 package's own device)",
    )
    triton_parser.add_argument("--instances", type=_count, default=1, help="model instances (1)")
    triton_parser.add_argument(
        "--queue-delay-us", type=_non_negative, default=100, help="dynamic batcher's wait for a fuller batch (100)"
    )
    triton_parser.add_argument("--version", type=_count, default=1, help="the version folder's number (1)")
    triton_parser.add_argument("--overwrite", action="store_true", help="replace an existing REPO/<name> folder")

    args = parser.parse_args(argv)
    try:
        handlers = {"export": _export, "info": _info, "bench": _bench, "finetune": _finetune, "triton": _triton}
        return handlers[args.command](args)
    except BrokenPipeError:
        # The reader went away (`tsnative info m.pt | head -2`): not an error. Python would report the pipe again
        # when it flushes stdout at exit, so stdout goes to /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as interrupt:
        # Ctrl-C reaches the whole process group: children (the bench's fresh-process loads, ts-infer) stop too,
        # and their output is captured, so this is the one line the user sees. The bench says what it wrote.
        detail = f" {interrupt}" if str(interrupt) else ""
        print(f"tsnative {args.command}: interrupted{detail}", file=sys.stderr)
        return 130
    except (OSError, RuntimeError, ValueError, TypeError, MemoryError) as error:
        # tsnative's errors (RuntimeError subclasses), the OS's and torch's: one line, never a traceback.
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"tsnative {args.command}: error: {text}", file=sys.stderr)
        return 1


def _export(args: argparse.Namespace) -> int:
    import torch
    import torchvision

    from .export import export, resolve_format

    available = torchvision.models.list_models(module=torchvision.models)
    if args.model not in available:
        close = difflib.get_close_matches(args.model, available, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; available: {', '.join(available)}"
        raise ValueError(f"model: {args.model!r} is not a torchvision classification model{hint}")
    torch.manual_seed(args.seed)
    model = torchvision.models.get_model(args.model, weights=None, num_classes=args.classes)
    example = torch.randn(args.batch, 3, args.size, args.size)
    how = "torch.export + AOTInductor" if resolve_format(args.out, args.format) == "pt2" else args.mode
    print(f"Exporting {args.model} (random weights) by {how} to {args.out} ...", flush=True)
    report = export(model, example, args.out, mode=args.mode, optimize=not args.no_optimize, format=args.format)
    print(report)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import bench
    from .bench.report import print_table

    results = bench(
        args.model,
        out=args.out,
        modes=args.mode,
        devices=args.device,
        batches=args.batch,
        threads=args.threads,
        size=args.size,
        budget_seconds=args.budget,
        target_spread=args.target_spread,
        onnx=not args.no_onnx,
        pt2=not args.no_pt2,
        cold_loads=not args.no_cold_loads,
        cold_load_repeats=args.cold_repeats,
    )
    print_table(results)
    print(f"results.json, results.csv and plots written to {args.out}")
    return 0


def _finetune(args: argparse.Namespace) -> int:
    from .finetune import EpochRecord, finetune

    progress: bool | Callable[[EpochRecord], None] = True
    if args.json:
        # stdout carries the JSON alone: the per-epoch lines go to stderr, as ts-train --json does.
        def to_stderr(record: EpochRecord) -> None:
            print(record.line(args.epochs), file=sys.stderr, flush=True)

        progress = to_stderr

    history = finetune(
        args.model,
        args.train,
        args.test,
        args.classes,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch,
        size=args.size,
        trainable=args.trainable,
        optimizer=args.optimizer,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        head=args.head,
        seed=args.seed,
        threads=args.threads,
        out=args.out,
        progress=progress,
    )
    print(
        f"Best: epoch {history.best_epoch}, test accuracy {100 * history.best_test_accuracy:.2f}%, saved to "
        f"{history.out} ({history.trainable_parameters:,} of {history.total_parameters:,} parameters trained; "
        f"{history.train_images} train / {history.test_images} test images)",
        file=sys.stderr if args.json else sys.stdout,
    )
    if args.json:
        print(json.dumps(history.to_dict(), indent=1))
    return 0


def _info(args: argparse.Namespace) -> int:
    from . import _C  # the package imports torch before _C (and _C imports it itself)
    from .engine import Engine

    # Only inspected: no freezing or fusion (the schema, methods, metadata and parameter count do not change), which
    # are TorchScript's options (a package refuses them).
    inspect: dict[str, Any] = {}
    if _C.backend_of(str(args.path)) == "torchscript":
        inspect = {"freeze": False, "onednn_fusion": "off"}
    engine = Engine(args.path, **inspect)
    text = _C.read_metadata(str(args.path))  # the file's metadata, checked by the C++ metadata unit
    metadata = json.loads(text) if text else None
    if args.json:
        print(json.dumps(metadata, indent=2))
        return 0
    # Only "format" and "inputs" are sure to be there (what the C++ reader requires): the rest is printed when
    # recorded, as recorded, whatever its type.
    parameters = (metadata or {}).get("parameters", engine.parameter_count)
    lines = [
        f"file        {engine.path} ({args.path.stat().st_size / 1e6:.1f} MB)",
        f"schema      {engine.schema}",
        f"methods     {', '.join(engine.method_names)}",
        f"parameters  {_number(parameters, ',')}",
    ]
    if metadata is None:
        lines.append("metadata    none (not exported by tsnative.export)")
    else:
        lines += _recorded_lines(metadata)
    print("\n".join(lines))
    return 0


def _triton(args: argparse.Namespace) -> int:
    from .triton import write_repository

    folder = write_repository(
        args.model,
        args.repo,
        name=args.name,
        max_batch_size=args.max_batch_size,
        device=args.device,
        instances=args.instances,
        queue_delay_us=args.queue_delay_us,
        version=args.version,
        overwrite=args.overwrite,
    )
    model_file = next((folder / str(args.version)).iterdir())
    print(f"Wrote {folder / 'config.pbtxt'} and {model_file}:\n")
    print((folder / "config.pbtxt").read_text(), end="")
    print(f"\nServe it with: tritonserver --model-repository {args.repo}")
    return 0


def _recorded_lines(metadata: dict[str, Any]) -> list[str]:
    """`tsnative info`'s lines for what the metadata records."""
    from ._export.structure import recorded_text

    lines = []
    if "model" in metadata:
        lines.append(f"model       {_shown(metadata['model'])}")
    inputs = metadata["inputs"]  # each with a "name" string: the C++ reader checked
    lines += [f"input       {item['name']}: {recorded_text(item)}" for item in inputs] or ["input       none"]
    if "outputs" in metadata:
        lines.append(f"output      {recorded_text(metadata['outputs'])}")
    batch = _batch_text(metadata)
    if batch:
        lines.append(f"batch       {batch}")
    export = []
    if "export_mode" in metadata:
        export.append(_shown(metadata["export_mode"]))
    if "optimizations" in metadata:
        optimizations = metadata["optimizations"]
        listed = ", ".join(map(_shown, optimizations)) if isinstance(optimizations, list) else _shown(optimizations)
        export.append(f"optimizations: {listed or 'none'}")
    if export:
        lines.append(f"export      {', '.join(export)}")
    verification = metadata.get("verification")  # absent for a fine-tuned file that had no export metadata
    tuned = metadata.get("finetune")
    if verification:
        # A fine-tuned file keeps its export's record: that check was of the model before its new head.
        when = "at export, before fine-tuning: " if tuned else ""
        lines.append(f"verified    {when}{_verification_text(verification)}")
    if tuned:
        lines.append(f"fine-tuned  {_finetune_text(tuned)}")
    created = _shown(metadata["created"]) if "created" in metadata else ""
    versions = [f"{name} {_shown(metadata[key])}" for name, key in _VERSIONS if key in metadata]
    if versions:
        created += (" with " if created else "with ") + ", ".join(versions)
    if created:
        lines.append(f"created     {created}")
    return lines


_VERSIONS = (("torch", "torch_version"), ("tsnative", "tsnative_version"))


def _shown(value: Any) -> str:
    """A recorded value as text: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _number(value: Any, spec: str) -> str:
    """A recorded number formatted by `spec` (",", "g"); a value of another type as recorded."""
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else _shown(value)


def _verification_text(verification: Any) -> str:
    """ "passed on 5 inputs (rtol=0.001, atol=0.0001)", from the parts recorded."""
    if not isinstance(verification, dict):
        return json.dumps(verification)  # as recorded, quotes and all: a bare "passed" would read as a result
    passed = verification.get("passed")
    text = "passed" if passed is True else "FAILED" if passed is False else "result not recorded"
    checks = verification.get("checks")
    if isinstance(checks, list):
        text += f" on {len(checks)} inputs"
    tolerances = [f"{key}={_number(verification[key], 'g')}" for key in ("rtol", "atol") if key in verification]
    return text + (f" ({', '.join(tolerances)})" if tolerances else "")


def _finetune_text(tuned: Any) -> str:
    """ "10 classes, trainable head, adam lr 0.001, size 224, 5 epochs: best test accuracy 91.20% (epoch 4), from
    r18.pt", from the parts recorded."""
    if not isinstance(tuned, dict):
        return _shown(tuned)
    settings = tuned.get("settings")
    if not isinstance(settings, dict):
        settings = {}
    parts = []
    if "classes" in settings:
        parts.append(f"{_shown(settings['classes'])} classes")
    if "trainable" in settings:
        parts.append(f"trainable {_shown(settings['trainable'])}")
    optimizer = [_shown(settings["optimizer"])] if "optimizer" in settings else []
    if "lr" in settings:
        optimizer.append(f"lr {_number(settings['lr'], 'g')}")
    if optimizer:
        parts.append(" ".join(optimizer))
    if "size" in settings:
        parts.append(f"size {_shown(settings['size'])}")
    if isinstance(tuned.get("history"), list):
        parts.append(f"{len(tuned['history'])} epochs")
    text = ", ".join(parts)
    accuracy = tuned.get("best_test_accuracy")
    if isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool):
        epoch = f" (epoch {_shown(tuned['best_epoch'])})" if "best_epoch" in tuned else ""
        text += f"{': ' if text else ''}best test accuracy {100 * accuracy:.2f}%{epoch}"
    if "from" in tuned:
        text += f"{', ' if text else ''}from {_shown(tuned['from'])}"
    return text or "recorded, without details"


def _batch_text(metadata: dict[str, Any]) -> str:
    """What the file says of its batch dimension ("" when nothing); files from before the "batch" entry only have
    the flag."""
    if metadata.get("batch"):
        return _shown(metadata["batch"])
    if "dynamic_batch" not in metadata:
        return ""
    return "dynamic (verified)" if metadata["dynamic_batch"] is True else "as recorded"


if __name__ == "__main__":
    sys.exit(main())
