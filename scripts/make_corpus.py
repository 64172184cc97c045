"""Writes a corpus of malformed model files: each must give a clean error, never a crash.

    python scripts/make_corpus.py OUT_DIR

Kinds: empty, random bytes, text renamed .pt, truncated archives, a zip bomb, a record declaring more bytes than
the file holds (PyTorch #185440), a plain pickle and a torch.save checkpoint, a directory, an entry escaping the
archive, TorchScript code that does not parse, an archive missing its tensor data, and pickle records whose
arguments ask the unpickler for gigabytes (PyTorch #185443).
"""

from __future__ import annotations

import io
import os
import pickle
import random
import struct
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

import torch

warnings.filterwarnings("ignore", category=FutureWarning)


def _valid_archive() -> bytes:
    """A small valid TorchScript archive (a scripted Linear) to damage."""
    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Linear(4, 3)), buffer)
    return buffer.getvalue()


def _rewrite(archive: bytes, change: dict[str, bytes | None], add: dict[str, bytes] | None = None) -> bytes:
    """The archive with entries replaced (bytes) or dropped (None), and entries added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            suffix = info.filename.split("/", 1)[1]
            if suffix in change:
                if change[suffix] is not None:
                    target.writestr(info.filename, change[suffix])
            else:
                target.writestr(info.filename, source.read(info))
        prefix = source.infolist()[0].filename.split("/", 1)[0]
        for name, data in (add or {}).items():
            target.writestr(name if name.startswith("..") else f"{prefix}/{name}", data)
    return out.getvalue()


def _declare_huge_record(archive: bytes, suffix: str, declared: int) -> bytes:
    """Patches the central directory so `suffix` claims `declared` bytes (compressed and uncompressed)."""
    data = bytearray(archive)
    position = 0
    while (position := data.find(b"PK\x01\x02", position)) >= 0:
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        name = bytes(data[position + 46 : position + 46 + name_length]).decode()
        if name.endswith(suffix):
            struct.pack_into("<II", data, position + 20, declared, declared)
            return bytes(data)
        position += 4
    raise ValueError(f"no entry ending in {suffix}")


def _zip_bomb(uncompressed: int) -> bytes:
    """A TorchScript-looking archive whose one deflated entry expands to `uncompressed` zero bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    compressed = b"".join(compressor.compress(chunk) for _ in range(uncompressed >> 20)) + compressor.flush()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("bomb/version", b"3\n")
        archive.writestr("bomb/data.pkl", pickle.dumps({}))
        archive.writestr("bomb/constants.pkl", pickle.dumps(()))
        info = zipfile.ZipInfo("bomb/data/0")
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, b"")  # placeholder, patched below
    data = out.getvalue()
    # Replace the empty deflated payload of data/0 by the bomb, fixing sizes and CRC in both headers.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entry = archive.getinfo("bomb/data/0")
    header = entry.header_offset
    name_length, extra_length = struct.unpack_from("<HH", data, header + 26)
    payload_start = header + 30 + name_length + extra_length
    crc = 0
    for _ in range(uncompressed >> 20):
        crc = zlib.crc32(chunk, crc)
    rebuilt = bytearray(data[:payload_start] + compressed + data[payload_start + entry.compress_size :])
    struct.pack_into("<III", rebuilt, header + 14, crc, len(compressed), uncompressed)
    shift = len(compressed) - entry.compress_size
    directory = rebuilt.find(b"PK\x01\x02", payload_start + len(compressed))
    while directory >= 0:
        name_length = struct.unpack_from("<H", rebuilt, directory + 28)[0]
        if bytes(rebuilt[directory + 46 : directory + 46 + name_length]) == b"bomb/data/0":
            struct.pack_into("<III", rebuilt, directory + 16, crc, len(compressed), uncompressed)
        directory = rebuilt.find(b"PK\x01\x02", directory + 4)
    end = rebuilt.rfind(b"PK\x05\x06")
    offset = struct.unpack_from("<I", rebuilt, end + 16)[0]
    struct.pack_into("<I", rebuilt, end + 16, offset + shift)
    return bytes(rebuilt)


# Protocol 2, then BINUNICODE8 declaring 4 GB with 2 bytes following; and NONE stored at memo index 0xF0000000.
HUGE_STRING_PICKLE = b"\x80\x02\x8d" + struct.pack("<Q", 4_194_304_000) + b"x."
HUGE_MEMO_PICKLE = b"\x80\x02N" + b"r" + struct.pack("<I", 0xF0000000) + b"."


def build_corpus(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    valid = _valid_archive()
    rng = random.Random(0)
    files: dict[str, bytes] = {
        "empty.pt": b"",
        "random_bytes.pt": bytes(rng.getrandbits(8) for _ in range(4096)),
        "text_renamed.pt": b"This is a README, renamed model.pt by mistake.\n",
        "truncated_10pct.pt": valid[: len(valid) // 10],
        "truncated_50pct.pt": valid[: len(valid) // 2],
        "truncated_99pct.pt": valid[:-20],
        "zip_bomb.pt": _zip_bomb(256 << 20),
        "oversized_record.pt": _declare_huge_record(valid, "data/0", 2_200_000_000),
        "plain_pickle.pt": pickle.dumps({"weight": [1.0, 2.0]}, protocol=2),
        "path_traversal.pt": _rewrite(valid, {}, {"../../escape.txt": b"outside"}),
        "bad_code.pt": _rewrite(valid, {"code/__torch__/torch/nn/modules/linear.py": b"def forward(self, x:\n"}),
        "missing_data.pt": _rewrite(valid, {"data/0": None}),
        # PyTorch #185443: pickle arguments asking the unpickler for gigabytes.
        "pickle_huge_string.pt": _rewrite(valid, {"data.pkl": HUGE_STRING_PICKLE}),
        "pickle_huge_memo.pt": _rewrite(valid, {"data.pkl": HUGE_MEMO_PICKLE}),
    }
    checkpoint = io.BytesIO()
    torch.save(torch.nn.Linear(4, 3).state_dict(), checkpoint)
    files["torch_save_checkpoint.pt"] = checkpoint.getvalue()
    legacy = io.BytesIO()
    torch.save({"w": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    files["legacy_checkpoint.pt"] = legacy.getvalue()
    paths = []
    for name, data in files.items():
        (out / name).write_bytes(data)
        paths.append(out / name)
    (out / "directory.pt").mkdir(exist_ok=True)
    paths.append(out / "directory.pt")
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    for path in build_corpus(target):
        size = "dir" if path.is_dir() else f"{os.path.getsize(path):,} bytes"
        print(f"{path}  ({size})")
