"""tsnative's exceptions.

Wrong inputs raise the built-in ``TypeError``/``ValueError`` and a missing file ``FileNotFoundError``; everything
else tsnative raises derives from :class:`TsnativeError`. Messages are one readable paragraph, never a C++
backtrace.
"""

from __future__ import annotations


class TsnativeError(RuntimeError):
    """Base of tsnative's own errors."""


class ModelLoadError(TsnativeError):
    """The file exists but is not a loadable TorchScript model.

    ``path`` is the file and ``reason`` says why, e.g. "it is a torch.save checkpoint ..., not a TorchScript
    program".
    """

    path: str = ""
    reason: str = ""


class DeviceUnavailableError(TsnativeError):
    """The requested device cannot be used on this machine (no CUDA, or no such CUDA index)."""


class DataError(TsnativeError, ValueError):
    """Training or test data that cannot be used: a malformed map-file line, a class index out of range, a missing
    or undecodable image.

    The message starts with ``path:line:`` (``path:`` alone for an image-folder file); ``path``, ``line`` (0 when
    there is none) and ``reason`` hold the parts. Also a ``ValueError``.
    """

    path: str = ""
    line: int = 0
    reason: str = ""


class InferenceError(TsnativeError):
    """The model raised while running (e.g. a shape mismatch inside it); the message carries the TorchScript
    traceback."""


def model_load_error(path: str, reason: str) -> ModelLoadError:
    """A ModelLoadError raised from Python, worded like the ones the C++ core raises."""
    error = ModelLoadError(f"Cannot load '{path}' as a model: {reason}")
    error.path, error.reason = path, reason
    return error
