"""The Engine's introspection: schema, device, load time, methods."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import tsnative
from conftest import save_scripted


class TwoMethods(torch.nn.Module):
    def forward(self, x: torch.Tensor, scale: float = 2.0) -> torch.Tensor:
        return x * scale

    @torch.jit.export
    def negate(self, x: torch.Tensor) -> torch.Tensor:
        return -x


def test_schema_device_and_load_time(recurrent_file: Path) -> None:
    engine = tsnative.Engine(recurrent_file)
    assert str(engine.schema) == "forward(x: Tensor, h: Tensor) -> Tuple[Tensor, Tensor]"
    assert [a.name for a in engine.schema.arguments] == ["x", "h"]
    assert [a.type for a in engine.schema.arguments] == ["Tensor", "Tensor"]
    assert engine.schema.returns == "Tuple[Tensor, Tensor]"
    assert engine.device == "cpu"
    assert engine.load_seconds > 0
    assert engine.path == str(recurrent_file)
    assert "forward(x: Tensor, h: Tensor)" in repr(engine)


def test_defaults_and_chosen_method(tmp_path: Path) -> None:
    path = save_scripted(TwoMethods(), tmp_path / "two.pt")
    engine = tsnative.Engine(path)
    scale = engine.schema.arguments[1]
    assert (scale.name, scale.type, scale.default) == ("scale", "float", "2.")
    assert engine.schema.arguments[0].default is None
    torch.testing.assert_close(engine.predict(torch.ones(2)), torch.full((2,), 2.0))
    torch.testing.assert_close(engine.predict(torch.ones(2), 3), torch.full((2,), 3.0))  # int accepted for float
    assert set(engine.method_names) >= {"forward", "negate"}

    negate = tsnative.Engine(path, method="negate")
    assert negate.method == "negate"
    torch.testing.assert_close(negate(torch.ones(2)), -torch.ones(2))


def test_threads_are_set_by_configure_alone(recurrent_file: Path) -> None:
    before = torch.get_num_threads()
    try:
        tsnative.configure(threads=1)
        assert torch.get_num_threads() == 1 and tsnative.runtime()["threads"] == 1
        torch.set_num_threads(2)
        tsnative.Engine(recurrent_file, warmup_shapes=[((1, 4), (1, 4))])  # an engine leaves the setting alone
        assert torch.get_num_threads() == 2
        with pytest.warns(DeprecationWarning, match=r"tsnative.configure\(threads=N\)"):
            tsnative.Engine(recurrent_file, threads=1)  # the old spelling still works, said to be process-wide
        assert torch.get_num_threads() == 1
        with pytest.raises(ValueError, match="threads: expected a positive count, got 0"):
            tsnative.configure(threads=0)
    finally:
        torch.set_num_threads(before)


def test_close_and_the_context_manager(recurrent_file: Path) -> None:
    x = torch.ones(1, 4)
    with tsnative.Engine(recurrent_file) as engine:
        assert not engine.closed
        engine.predict(x, x)
    assert engine.closed and repr(engine).endswith("closed)")
    with pytest.raises(ValueError, match=r"run: this engine is closed \(.*recurrent.pt\)"):
        engine.predict(x, x)
    # What describes the engine stays readable after close; close twice is harmless.
    assert str(engine.schema).startswith("forward(x: Tensor, h: Tensor)") and engine.load_report["backend"]
    engine.close()


def test_close_while_other_threads_call_waits_for_them(recurrent_file: Path) -> None:
    import threading
    import time

    engine = tsnative.Engine(recurrent_file)
    x = torch.ones(1, 4)
    outcomes: list[str] = []
    lock = threading.Lock()
    running = threading.Barrier(5)  # four callers and this thread: close() only once every caller has run once

    def call_until_closed() -> None:
        engine.predict(x, x)
        outcomes.append("ran")
        running.wait()
        deadline = time.monotonic() + 60  # a safety net: the loop ends when close() refuses a call
        while time.monotonic() < deadline:
            try:
                engine.predict(x, x)
                outcome = "ran"
            except ValueError:
                outcome = "closed"
            with lock:
                outcomes.append(outcome)
            if outcome == "closed":
                return

    threads = [threading.Thread(target=call_until_closed) for _ in range(4)]
    for thread in threads:
        thread.start()
    running.wait()
    engine.close()  # calls in progress finish first; later ones are refused; none runs on a released model
    for thread in threads:
        thread.join()
    assert set(outcomes) == {"ran", "closed"} and outcomes.count("closed") == 4
