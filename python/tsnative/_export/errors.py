"""export's exceptions, and the one-line causes its messages and reports quote from other errors."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import TsnativeError

if TYPE_CHECKING:
    from ..report import ExportReport


class ExportError(TsnativeError):
    """The model could not be exported (e.g. it cannot be scripted, and mode was not "auto")."""


class ExportVerificationError(TsnativeError):
    """The exported file's outputs differ from eager PyTorch's; ``report`` says where and by how much."""

    def __init__(self, report: ExportReport) -> None:
        super().__init__(
            f"the exported model does not reproduce eager PyTorch's outputs; {report.path} was not "
            f"written (pass strict=False to keep it)\n{report}"
        )
        self.report = report


# Named by their public path, as they were when export.py defined them: tracebacks print it, pickle looks it up.
ExportError.__module__ = ExportVerificationError.__module__ = "tsnative.export"


# Lines of a TorchScript/LibTorch message that carry no cause: the interpreter's banner, traceback headers, source
# excerpts (the indented lines after a `File "..."` line), markers and bare punctuation.
_NOISE = re.compile(
    r"^(The following operation failed in the TorchScript interpreter|Traceback|File \"|Exception raised from|"
    r"The above operation failed|The original call is)"
)
_BARE_TYPE = re.compile(r"^[\w.]*(Error|Exception):?$")  # "RuntimeError:" with its message on the next lines
_RAISED = re.compile(r"^[\w.]*(Error|Exception)\b[^:]*:\s*\S")  # "RuntimeError: ...", "builtins.ValueError: ..."
_MAX_LINE = 200


def meaningful_line(text: str) -> str:
    """The line of an error message that says what went wrong, shortened to one line ("" when none does).

    The interpreter's own error line ("RuntimeError: mat1 and mat2 shapes cannot be multiplied") when there is
    one, else the first line with words: LibTorch's schema errors end in a lone ":" after a source excerpt, and
    their cause ("Arguments for call are not valid.") is at the top.
    """
    candidates = []
    in_excerpt = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith('File "'):
            in_excerpt = True
            continue
        if in_excerpt and (not line or raw[:1].isspace()):
            continue
        in_excerpt = False
        if (
            sum(character.isalnum() for character in line) >= 3
            and "<--- HERE" not in line
            and not _NOISE.match(line)
            and not _BARE_TYPE.match(line)
        ):
            candidates.append(line)
    raised = [line for line in candidates if _RAISED.match(line)]
    line = raised[-1] if raised else (candidates[0] if candidates else "")
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 3] + "..."


def error_line(error: BaseException) -> str:
    """One line naming an error's cause: its meaningful line, or the exception type when the message has none."""
    return meaningful_line(str(error)) or type(error).__name__


def error_cause(error: BaseException) -> str:
    """ "RuntimeError: <its meaningful line>", for a report or a message."""
    line, name = meaningful_line(str(error)), type(error).__name__
    if not line:
        return name
    return line if line.startswith((f"{name}:", f"builtins.{name}:")) else f"{name}: {line}"
