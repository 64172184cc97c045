"""tsnative.finetune: fine-tune a TorchScript classifier in C++ (the core behind ts-train), called from Python.

>>> history = tsnative.finetune("r18.pt", "train.txt", "test.txt", classes=10, epochs=5, out="best.pt")
>>> history.best_test_accuracy, history[-1].test_loss
>>> tsnative.Engine("best.pt").predict(tsnative.load_images("test.txt", 10).images)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import torch

from . import _C

__all__ = ["EpochRecord", "FinetuneHistory", "LabelledImages", "finetune", "load_images"]


@dataclasses.dataclass(frozen=True)
class EpochRecord:
    """One epoch: training loss and accuracy (as trained, weights changing), then test loss and accuracy (after
    the epoch, eval mode, no gradients); accuracies are fractions in [0, 1]. ``best``: the best test accuracy so
    far, so this epoch's model was written to ``out``."""

    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    train_seconds: float
    seconds: float
    best: bool

    @classmethod
    def _from_native(cls, stats: _C.EpochStats) -> EpochRecord:
        return cls(**{field.name: getattr(stats, field.name) for field in dataclasses.fields(cls)})

    def line(self, epochs: int) -> str:
        """The progress line ts-train prints: ``epoch  3/10  train loss 0.4123 acc  88.2%  test loss ...``."""
        width = len(str(epochs))
        train = f"train loss {self.train_loss:.4f} acc {100 * self.train_accuracy:5.1f}%"
        test = f"test loss {self.test_loss:.4f} acc {100 * self.test_accuracy:5.1f}%"
        mark = " *" if self.best else ""
        return f"epoch {self.epoch:{width}d}/{epochs}  {train}  {test}  {self.seconds:6.2f} s{mark}"


@dataclasses.dataclass(frozen=True)
class FinetuneHistory(Sequence[EpochRecord]):
    """What :func:`finetune` returns: a sequence of :class:`EpochRecord`, one per epoch, and the run's summary."""

    epochs: list[EpochRecord]
    best_epoch: int
    best_test_accuracy: float
    out: Path
    class_names: list[str]
    train_images: int
    test_images: int
    trainable_parameters: int
    total_parameters: int
    load_seconds: float  # reading the model and decoding the images
    settings: dict[str, Any]

    @overload
    def __getitem__(self, index: int) -> EpochRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[EpochRecord]: ...
    def __getitem__(self, index: int | slice) -> EpochRecord | list[EpochRecord]:
        return self.epochs[index]

    def __len__(self) -> int:
        return len(self.epochs)

    def __iter__(self) -> Iterator[EpochRecord]:
        return iter(self.epochs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the keys of ``ts-train --json`` where they overlap (the epochs under "history")."""
        data = dataclasses.asdict(self)
        data["out"] = str(self.out)
        data["history"] = data.pop("epochs")
        return data


@dataclasses.dataclass(frozen=True)
class LabelledImages:
    """Images as the fine-tuning core reads them: ``images`` [N, 3, size, size] (float32 ImageNet-normalised, the
    model's input, or uint8 with ``normalize=False``), ``labels`` int64 [N], ``class_names`` (an image folder's
    sorted subfolders, or "0", "1"... for a map file) and the resolved image ``files``."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    files: list[str]
    image_folder: bool


def load_images(
    source: str | os.PathLike[str], classes: int, *, size: int = 224, normalize: bool = True
) -> LabelledImages:
    """Reads a map file (``image_path<TAB>class_index`` per line) or an image folder (``root/<class>/<image>``)
    with the C++ loader :func:`finetune` uses: PNG/JPEG decoded, RGB, resized to ``size`` x ``size`` (bilinear,
    antialiased, rounded to uint8), then normalised with the ImageNet mean and std unless ``normalize=False``.

    Raises ``FileNotFoundError`` for a missing ``source``, :class:`tsnative.DataError` (``path:line: reason``) for
    a malformed line, a class index outside ``[0, classes)`` or an unreadable image.
    """
    images, labels, class_names, files, image_folder = _C.load_images(
        os.fspath(source), classes, size, normalize=normalize
    )
    return LabelledImages(images, labels, class_names, files, image_folder)


def finetune(
    model: str | os.PathLike[str],
    train: str | os.PathLike[str],
    test: str | os.PathLike[str],
    classes: int,
    *,
    progress: bool | Callable[[EpochRecord], None] = True,
    **options: Any,
) -> FinetuneHistory:
    """Fine-tunes the TorchScript classifier ``model`` in C++ and writes the epoch with the best test accuracy to
        ``out``, a TorchScript file :class:`tsnative.Engine`, ``ts-infer`` and ``torch.jit.load`` read directly.

        The head (submodule ``head``, a Linear layer; dotted for nested ones, e.g. ``"classifier.6"``) is replaced by a
        freshly initialised one with ``classes`` outputs. ``trainable="head"`` trains it alone, the rest frozen and in
        eval mode (batch-norm statistics do not move); ``"all"`` trains every parameter. Each epoch trains on ``train``
        in a shuffled order (``nll_loss(log_softmax(logits))`` = cross-entropy, Adam or SGD), then evaluates on
        ``test`` without gradients. The same ``seed`` gives the same history. The GIL is released while training;
        Ctrl-C stops it at the end of an epoch.

        Args:
            model: a TorchScript file saved unfrozen (``tsnative export ... --no-optimize``,
                ``tsnative.export(..., optimize=False)`` or ``torch.jit.save``); a frozen one has no head left.
            train, test: a map file (``image_path<TAB>class_index`` per line, paths relative to the file's folder) or
                an image folder (``root/<class>/<image>.png|.jpg``, classes numbered by sorted folder names).
            classes: outputs of the new head.
            progress: ``True`` prints a line per epoch; a callable receives each :class:`EpochRecord`; ``False`` is
                silent.
            **options: by keyword, the options of ``tsnative._C.FinetuneOptions``, declared once in C++
                (``cpp/include/tsnative/finetune.h``; ``out`` may be a path):

    {options}

        Returns:
            The :class:`FinetuneHistory`: one :class:`EpochRecord` per epoch, the best epoch and its accuracy. The file
            also records them, with the settings, in its metadata (``Engine(out).metadata["finetune"]``).

        Raises:
            FileNotFoundError: ``model``, ``train`` or ``test`` does not exist.
            tsnative.DataError: a malformed map-file line, a bad class index or an unreadable image (``path:line:``).
            tsnative.ModelLoadError: ``model`` is not a loadable TorchScript file.
            TypeError: an unknown option, or an option of the wrong type.
            ValueError: a bad option value, or a model without a usable head (frozen, no such submodule, not Linear).
    """
    if "out" in options:
        options["out"] = os.fspath(options["out"])
    settings = _C.FinetuneOptions(classes=classes, **options)
    callback = _progress_printer(settings.epochs) if progress is True else (progress or None)
    result = _C.finetune(
        os.fspath(model),
        os.fspath(train),
        os.fspath(test),
        settings,
        progress=None if callback is None else lambda stats: callback(EpochRecord._from_native(stats)),
    )
    return FinetuneHistory(
        epochs=[EpochRecord._from_native(stats) for stats in result.history],
        best_epoch=result.best_epoch,
        best_test_accuracy=result.best_test_accuracy,
        out=Path(result.out),
        class_names=list(result.class_names),
        train_images=result.train_images,
        test_images=result.test_images,
        trainable_parameters=result.trainable_parameters,
        total_parameters=result.total_parameters,
        load_seconds=result.load_seconds,
        settings=settings.to_dict(),
    )


def _progress_printer(epochs: int) -> Callable[[EpochRecord], None]:
    import rich.console  # here, not at the top: `import tsnative` (also in the trial-load child) stays light

    console = rich.console.Console(highlight=False, soft_wrap=True)  # one line per epoch, also in a narrow pipe

    def show(record: EpochRecord) -> None:
        text = record.line(epochs)
        console.print(f"[bold green]{text}[/]" if record.best else text)

    return show


def _options_doc() -> str:
    """The options' part of finetune's docstring, made from their one declaration."""
    return "\n".join(
        f"            {name} ({kind}, default {default!r}): {text}."
        for name, kind, default, text in _C.FinetuneOptions.fields()
        if name != "classes"
    )


finetune.__doc__ = (finetune.__doc__ or "").replace("{options}", _options_doc())
