"""TorchScript's upstream deprecation, handled once.

torch 2.14 emits a FutureWarning from every ``torch.jit.script``/``trace``/``load`` call ("`torch.jit.script` is
deprecated. Please switch to `torch.compile` or `torch.export`."). tsnative exists to run TorchScript, so inside
:func:`torchscript_calls` those warnings are replaced by a single line per process, saying so once.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator

_DEPRECATION_MESSAGE = r"`torch\.jit\.\w+` is deprecated"
_noted = False


@contextlib.contextmanager
def torchscript_calls() -> Iterator[None]:
    """Runs torch.jit calls without their per-call FutureWarning; notes the deprecation once on stderr."""
    global _noted
    if not _noted:
        _noted = True
        sys.stdout.flush()  # keep the note in order with what was printed before it
        print(
            "tsnative: note: TorchScript is deprecated upstream (torch 2.14 warns on every torch.jit call); "
            "it still works and tsnative uses it deliberately.",
            file=sys.stderr,
            flush=True,
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DEPRECATION_MESSAGE, category=FutureWarning)
        yield
