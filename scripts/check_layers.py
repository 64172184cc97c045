"""Checks the C++ include layering of docs/ARCHITECTURE.md §1 and §8 (issue 25): which folder may include what.

Reads every `#include` line of the C++ sources (cpp/src, cpp/include, cpp/bindings, cpp/tools, cpp/tests,
cpp/fuzz) and checks each against RULES. Prints one line per violation, `file:line: who includes what (rule)`,
and exits 1; otherwise prints a one-line summary and exits 0. Only direct includes are checked (not what a header
pulls in), and only the standard library is needed:

    python3 scripts/check_layers.py [--root REPO]

A known edge that crosses the layering today is listed in EXCEPTIONS, as a (rule, file, header) triple with the
reason, so that the rule still catches anything new. An exception that no longer matches any include is reported in
the summary (the edge is gone): remove it.
"""

from __future__ import annotations

import argparse
import posixpath
import re
import sys
from dataclasses import dataclass
from pathlib import Path

TORCH_HEADERS = ("torch/", "ATen/", "c10/", "caffe2/")
TORCHSCRIPT_HEADERS = ("torch/csrc/jit/",)


@dataclass(frozen=True)
class Rule:
    name: str
    applies_to: tuple[str, ...]  # path prefixes, relative to the repository root, of the files the rule checks
    exempt: tuple[str, ...]  # path prefixes (or exact files) the rule does not check
    kind: str  # what is forbidden; see forbidden() below
    explain: str  # the reason printed after a violation


# The rules, in one table. `kind`:
#   relative-core  a "../" include that resolves into cpp/src or cpp/include (use root-relative "engine/x.h", or
#                  "tsnative/x.h"; tools, bindings and tests reach cpp/src through the tsnative_internal target)
#   backend-impl   a quoted include of a backend's own folder, "backends/<name>/..."
#   backend-iface  a quoted include of "backends/backend.h"
#   torch          an angle include of torch, ATen, c10 or caffe2
#   torchscript    an angle include of TorchScript, <torch/csrc/jit/...>
LOWER_LAYERS = tuple(f"cpp/src/{d}/" for d in ("engine", "batching", "device", "file", "format", "common"))
RULES: tuple[Rule, ...] = (
    Rule("a", ("cpp/",), (), "relative-core", "includes into the core are root-relative, never ../"),
    Rule("b", LOWER_LAYERS, (), "backend-impl", "{who} must not include backends/"),
    Rule(
        "b",
        ("cpp/",),
        ("cpp/src/engine/", "cpp/src/backends/"),
        "backend-iface",
        "backends/backend.h is included only from engine/ and backends/",
    ),
    Rule("c", ("cpp/src/format/", "cpp/src/file/"), (), "torch", "{who} must not include torch headers"),
    Rule(
        "d",
        ("cpp/",),
        (
            "cpp/src/backends/torchscript/",
            "cpp/src/train/",
            "cpp/bindings/python_values.cpp",  # toIValue / toPyObject
            "cpp/tests/",  # the C++ tests build and load TorchScript modules
        ),
        "torchscript",
        "only backends/torchscript/, train/ and bindings/python_values.cpp include TorchScript",
    ),
)

# Known edges today, each (rule, file, header as written) -> reason. Remove an entry when its edge is gone.
EXCEPTIONS: dict[tuple[str, str, str], str] = {
    # (b) engine/ reaches a backend's folder.
    ("b", "cpp/src/engine/runtime.cpp", "backends/torchscript/fusion_pass.h"): (
        "known edge (issue 25): the process-wide oneDNN fusion setting lives in the TorchScript backend"
    ),
    # (c) file/: the archive checks and the model bytes speak caffe2's PyTorchStreamReader / ReadAdapterInterface,
    # the interface torch's own loaders (TorchScript and .pt2) read an archive through.
    ("c", "cpp/src/file/model_bytes.h", "caffe2/serialize/read_adapter_interface.h"): (
        "the bytes of an opened file are handed to torch's loaders as a ReadAdapterInterface"
    ),
    ("c", "cpp/src/file/archive_check.h", "caffe2/serialize/read_adapter_interface.h"): (
        "the archive checks read through the same ReadAdapterInterface"
    ),
    ("c", "cpp/src/file/archive_check.cpp", "caffe2/serialize/inline_container.h"): (
        "the archive checks walk the zip with torch's PyTorchStreamReader, as the loaders will"
    ),
    # (c) format/: the dtype table and the .npy reader produce torch dtypes and tensors.
    ("c", "cpp/src/format/dtypes.h", "c10/core/ScalarType.h"): ("the dtype table maps names to c10::ScalarType"),
    ("c", "cpp/src/format/npy.cpp", "c10/core/ScalarType.h"): "the .npy reader maps descr to c10::ScalarType",
    ("c", "cpp/src/format/npy.cpp", "ATen/ops/empty.h"): "the .npy reader allocates the tensor it returns",
    # (d) TorchScript outside its backend.
    ("d", "cpp/src/backends/aoti/aoti_backend.cpp", "torch/csrc/jit/frontend/function_schema_parser.h"): (
        "the .pt2 backend parses the FunctionSchema its metadata records (a parser, no TorchScript modules)"
    ),
    ("d", "cpp/include/tsnative/finetune_steps.h", "torch/csrc/jit/api/module.h"): (
        "fine-tuning's building blocks take a torch::jit::Module (ARCHITECTURE.md §8)"
    ),
}

SCANNED = ("cpp/src", "cpp/include", "cpp/bindings", "cpp/tools", "cpp/tests", "cpp/fuzz")
SUFFIXES = {".cpp", ".cc", ".h", ".hpp"}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
CORE_ROOTS = ("cpp/src/", "cpp/include/")


def who(path: str) -> str:
    """The layer a file belongs to, as the architecture names it: format/, backends/aoti/, bindings/."""
    parts = path.split("/")
    if parts[:2] == ["cpp", "src"] and len(parts) > 3:
        return f"{parts[2]}/{parts[3]}/" if parts[2] == "backends" and len(parts) > 4 else f"{parts[2]}/"
    return f"{parts[1]}/" if len(parts) > 2 else path


def forbidden(kind: str, path: str, delim: str, header: str) -> bool:
    if kind == "relative-core":
        if not header.startswith("../"):
            return False
        target = posixpath.normpath(posixpath.join(posixpath.dirname(path), header)) + "/"
        return target.startswith(CORE_ROOTS)
    if kind == "backend-impl":
        return delim == '"' and header.startswith("backends/") and header.count("/") >= 2
    if kind == "backend-iface":
        return delim == '"' and header == "backends/backend.h"
    if kind == "torch":
        return delim == "<" and header.startswith(TORCH_HEADERS)
    if kind == "torchscript":
        return delim == "<" and header.startswith(TORCHSCRIPT_HEADERS)
    raise ValueError(f"unknown rule kind {kind!r}")


def applies(rule: Rule, path: str) -> bool:
    return path.startswith(rule.applies_to) and not any(path == e or path.startswith(e) for e in rule.exempt)


def sources(root: Path) -> list[Path]:
    files = []
    for folder in SCANNED:
        base = root / folder
        if base.is_dir():
            files += [p for p in base.rglob("*") if p.suffix in SUFFIXES and p.is_file()]
    return sorted(files)


def check(root: Path) -> tuple[list[str], int, int, set[tuple[str, str, str]]]:
    """Returns (violations, files, includes, exceptions used)."""
    violations: list[str] = []
    used: set[tuple[str, str, str]] = set()
    files = sources(root)
    includes = 0
    for file in files:
        path = file.relative_to(root).as_posix()
        text = file.read_text(encoding="utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            includes += 1
            delim, header = match.groups()
            for rule in RULES:
                if not applies(rule, path) or not forbidden(rule.kind, path, delim, header):
                    continue
                key = (rule.name, path, header)
                if key in EXCEPTIONS:
                    used.add(key)
                    continue
                shown = header if delim == '"' else f"<{header}>"
                reason = rule.explain.format(who=who(path))
                violations.append(f"{path}:{lineno}: {who(path)} includes {shown} ({reason})")
    return violations, len(files), includes, used


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent, help="repository root")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not (root / "cpp" / "src").is_dir():
        print(f"check_layers: no cpp/src under {root}", file=sys.stderr)
        return 2
    violations, files, includes, used = check(root)
    for line in violations:
        print(line)
    if violations:
        print(f"check_layers: {len(violations)} layering violation(s); see docs/ARCHITECTURE.md §1", file=sys.stderr)
        return 1
    stale = sorted(f"{file} -> {header}" for (_, file, header) in set(EXCEPTIONS) - used)
    note = f"; exceptions no longer needed (remove them): {', '.join(stale)}" if stale else ""
    print(f"check_layers: {files} files, {includes} includes, no violations ({len(used)} known exceptions){note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
