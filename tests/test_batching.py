"""Dynamic batching (Engine(max_batch=N, batch_delay_us=D)): concurrent calls run as one batch, each caller gets its
own rows; bad calls are refused before they join, a failing batch fails no good call, close() drains the queue.

Batches are made deterministic without timing: a long delay means a batch runs only when it is full, and the
calls are submitted one at a time, each after the engine has counted the previous one (load_report's counters).
"""

from __future__ import annotations

import gc
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import torch

import tsnative
from conftest import batching, outputs_in_order, run_tool, save_scripted, submit_in_order, wait_for

LONG_DELAY_US = 60_000_000  # a minute: a batch runs when it is full (or at close), never by its delay in a test


class ExactMLP(torch.nn.Module):
    """Two Linear layers with small integer weights: on small integer inputs every sum is exact in float32, so the
    results do not depend on the batch size's kernel (the check is of the rows each caller gets back)."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(8, 16)
        self.out = torch.nn.Linear(16, 4)
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for layer in (self.hidden, self.out):
                layer.weight.copy_(torch.randint(-2, 3, layer.weight.shape, generator=generator).float())
                layer.bias.copy_(torch.randint(-2, 3, layer.bias.shape, generator=generator).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(x)))


def exact_rows(count: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(-3, 4, (count, 8), generator=torch.Generator().manual_seed(seed)).float()


class Poisonable(torch.nn.Module):
    """Element-wise (exact at any batch size); raises when an input holds a value above 1000: one caller's data."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool((x > 1000.0).any()):
            raise ValueError("poisoned input")
        return x * 2.0 + 1.0


class FailsAtFourRows(torch.nn.Module):
    """Raises for a batch of 4 rows or more: a stand-in for a batch too large for the device's memory."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.size(0) >= 4:
            raise RuntimeError("batch too large")
        return x * 2.0


class FixedBatch(torch.nn.Module):
    """Runs at batch 4 only: its export records a fixed batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(4, 8) * 2.0


class WithBatchSum(torch.nn.Module):
    """A second output without a row per call: a sum over the whole batch."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x * 2.0, x.sum()


class ItemPerRow(torch.nn.Module):
    """One list item per row, each with two rows of its own: at a batch of two, the list also has two items of two
    rows, which looks like rows to cut but is not."""

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [torch.stack([r, r * 10.0]) for r in x.unbind(0)]


class TwoInputs(torch.nn.Module):
    """(x, h) -> (new_h, new_h, {"x": x + 1}): two batched inputs, a tensor returned twice, a dict."""

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        new_h = x * 2.0 + h
        return new_h, new_h, {"x": x + 1.0}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("batching")
    torch.manual_seed(0)
    return {
        "exact": tsnative.export(ExactMLP(), exact_rows(2), folder / "exact.pt").path,
        "poisonable": tsnative.export(Poisonable(), torch.randn(2, 8), folder / "poisonable.pt").path,
        "fails_at_4": tsnative.export(FailsAtFourRows(), torch.randn(1, 8), folder / "fails_at_4.pt").path,
        "batch_sum": tsnative.export(WithBatchSum(), torch.randn(2, 8), folder / "batch_sum.pt").path,
        "item_per_row": tsnative.export(
            torch.jit.script(ItemPerRow()), torch.randn(2, 8), folder / "item_per_row.pt"
        ).path,
        "two_inputs": tsnative.export(
            TwoInputs(), (torch.randn(2, 4), torch.randn(2, 4)), folder / "two_inputs.pt"
        ).path,
    }


# --- Results ----------------------------------------------------------------------------------------------------


def test_sixteen_threads_times_100_calls_equal_serial_results(files: dict[str, Path]) -> None:
    serial_engine = tsnative.Engine(files["exact"])
    rows = exact_rows(1600, seed=1)
    serial = [serial_engine.predict(rows[i : i + 1]) for i in range(1600)]
    engine = tsnative.Engine(files["exact"], max_batch=16, batch_delay_us=5000)

    def client(thread: int) -> list[torch.Tensor]:
        return [engine.predict(rows[thread * 100 + i : thread * 100 + i + 1]) for i in range(100)]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(client, range(16)))
    for thread, outputs in enumerate(results):
        for i, output in enumerate(outputs):
            assert torch.equal(output, serial[thread * 100 + i]), f"thread {thread} call {i} got other rows"
    report = batching(engine)
    assert report["calls"] == 1600 and report["rows"] == 1600 and report["queued"] == 0
    assert report["largest_batch"] > 1, "no two calls were ever batched together"
    assert report["batches"] < 1600


def test_calls_of_several_rows_get_their_own_rows(files: dict[str, Path]) -> None:
    engine = tsnative.Engine(files["exact"], max_batch=6, batch_delay_us=LONG_DELAY_US)
    reference = tsnative.Engine(files["exact"])
    inputs = [exact_rows(1, seed=2), exact_rows(2, seed=3), exact_rows(3, seed=4)]
    outputs = outputs_in_order(engine, [(x,) for x in inputs])
    for x, output in zip(inputs, outputs, strict=True):
        assert torch.equal(output, reference.predict(x))
    assert batching(engine)["batches"] == 1 and batching(engine)["largest_batch"] == 6


def test_rows_equal_the_engine_run_of_the_same_batch_bit_for_bit(conv_files: dict[str, Path]) -> None:
    # Float convolutions: a row's value may depend on the batch size's kernel (not on its neighbours), so a batched
    # call equals, bit for bit, the engine's own run of the same batch, and a batch-1 call within rounding.
    shapes = [(1, 3, 16, 16), (4, 3, 16, 16)]
    engine = tsnative.Engine(conv_files["exported"], max_batch=4, batch_delay_us=LONG_DELAY_US, warmup_shapes=shapes)
    reference = tsnative.Engine(conv_files["exported"], warmup_shapes=shapes)
    torch.manual_seed(3)
    inputs = [torch.randn(1, 3, 16, 16) for _ in range(4)]
    outputs = outputs_in_order(engine, [(x,) for x in inputs])
    same_batch = reference.predict(torch.cat(inputs))
    for i, output in enumerate(outputs):
        assert torch.equal(output, same_batch[i : i + 1])
        torch.testing.assert_close(output, reference.predict(inputs[i]), rtol=1e-5, atol=1e-6)


def test_tuple_and_dict_outputs_are_split_and_a_repeated_tensor_stays_one(files: dict[str, Path]) -> None:
    engine = tsnative.Engine(files["two_inputs"], max_batch=3, batch_delay_us=LONG_DELAY_US)
    reference = tsnative.Engine(files["two_inputs"])
    torch.manual_seed(4)
    calls = [(torch.randn(1, 4), torch.randn(1, 4)) for _ in range(3)]
    outputs = outputs_in_order(engine, calls)
    for args, (h1, h2, extra) in zip(calls, outputs, strict=True):
        expected = reference.predict(*args)
        assert torch.equal(h1, expected[0]) and torch.equal(extra["x"], expected[2]["x"])
        assert h1.data_ptr() == h2.data_ptr(), "the tensor the model returned twice came back as two"
    assert batching(engine)["largest_batch"] == 3


def test_a_caller_holds_its_own_rows_not_the_batch(files: dict[str, Path]) -> None:
    engine = tsnative.Engine(files["exact"], max_batch=4, batch_delay_us=LONG_DELAY_US)
    outputs = outputs_in_order(engine, [(exact_rows(1, seed=i),) for i in range(4)])
    for output in outputs:
        # Copied out of the batch: the storage is this caller's row, not the other callers' results.
        assert output.untyped_storage().nbytes() == output.numel() * output.element_size()
        output.add_(1)  # the caller owns it
    assert batching(engine)["largest_batch"] == 4


# --- Bad calls and model errors -----------------------------------------------------------------------------------


def test_a_bad_request_is_refused_before_it_joins_and_fails_no_other(files: dict[str, Path]) -> None:
    engine = tsnative.Engine(files["exact"], max_batch=4, batch_delay_us=LONG_DELAY_US)
    reference = tsnative.Engine(files["exact"])
    good = [exact_rows(1, seed=10 + i) for i in range(4)]
    bad: list[tuple[Any, ...]] = [
        (torch.zeros(1, 7),),  # wrong shape
        (torch.zeros(1, 8, dtype=torch.float64),),  # wrong dtype
        (exact_rows(1), exact_rows(1)),  # wrong count
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        good_futures = submit_in_order(pool, engine, [(x,) for x in good[:2]])
        bad_futures = [pool.submit(engine.predict, *args) for args in bad]
        for future in bad_futures:
            with pytest.raises((ValueError, TypeError)):
                future.result()
        good_futures += submit_in_order(pool, engine, [(x,) for x in good[2:]])
        for x, future in zip(good, good_futures, strict=True):
            assert torch.equal(future.result(), reference.predict(x))
    # The four good calls filled the batch on their own: none of the bad ones took a place in it.
    report = batching(engine)
    assert (report["calls"], report["batches"], report["largest_batch"]) == (4, 1, 4)


def test_a_poisoned_request_among_good_ones_fails_alone(files: dict[str, Path]) -> None:
    engine = tsnative.Engine(files["poisonable"], max_batch=4, batch_delay_us=LONG_DELAY_US)
    torch.manual_seed(5)
    inputs = [torch.randn(1, 8) for _ in range(4)]
    inputs[2] = torch.full((1, 8), 5000.0)  # passes the checks; the model raises on it
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = submit_in_order(pool, engine, [(x,) for x in inputs])
        for i, (x, future) in enumerate(zip(inputs, futures, strict=True)):
            if i == 2:
                with pytest.raises(tsnative.InferenceError, match="poisoned input"):
                    future.result()
            else:
                assert torch.equal(future.result(), x * 2.0 + 1.0)
    report = batching(engine)
    assert report["retried_batches"] == 1
    # The failed batch answered no one: it counts as retried, not as a batch (nor are its rows counted twice).
    assert (report["batches"], report["rows"]) == (4, 4)
    four_rows = torch.cat([inputs[0]] * 4)  # a full batch on its own: it runs without waiting for the delay
    assert torch.equal(engine.predict(four_rows), four_rows * 2.0 + 1.0)  # the engine is still usable


def test_a_failing_batch_gives_each_call_its_own_result(files: dict[str, Path]) -> None:
    # The batch's size makes the model raise (as running out of memory would): every call, run alone, succeeds.
    engine = tsnative.Engine(files["fails_at_4"], max_batch=4, batch_delay_us=LONG_DELAY_US)
    torch.manual_seed(6)
    inputs = [torch.randn(1, 8) for _ in range(4)]
    outputs = outputs_in_order(engine, [(x,) for x in inputs])
    for x, output in zip(inputs, outputs, strict=True):
        assert torch.equal(output, x * 2.0)
    assert batching(engine)["retried_batches"] == 1


def test_a_model_error_of_every_call_reaches_each_caller(files: dict[str, Path]) -> None:
    engine = tsnative.Engine(files["poisonable"], max_batch=3, batch_delay_us=LONG_DELAY_US)
    poisoned = [torch.full((1, 8), 2000.0 + i) for i in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        for future in submit_in_order(pool, engine, [(x,) for x in poisoned]):
            with pytest.raises(tsnative.InferenceError, match="poisoned input"):
                future.result()


# --- Keys: calls of other shapes and dtypes -----------------------------------------------------------------------


def test_calls_of_other_shapes_and_dtypes_run_in_batches_of_their_own(files: dict[str, Path]) -> None:
    # Without input checks, calls of several shapes and dtypes reach the batcher: each kind batches only with itself.
    engine = tsnative.Engine(files["poisonable"], max_batch=2, batch_delay_us=LONG_DELAY_US, check_inputs=False)
    torch.manual_seed(7)
    calls = [
        torch.randn(1, 8),
        torch.randn(1, 8, dtype=torch.float64),
        torch.randn(1, 5),
        torch.full((1, 8), 5000.0),  # poisoned: fails only itself
        torch.randn(1, 8, dtype=torch.float64),
        torch.randn(1, 5),
    ]
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = submit_in_order(pool, engine, [(x,) for x in calls])
        for i, (x, future) in enumerate(zip(calls, futures, strict=True)):
            if i == 3:
                with pytest.raises(tsnative.InferenceError):
                    future.result()
            else:
                output = future.result()
                assert output.dtype == x.dtype and torch.equal(output, x * 2.0 + 1.0)
    report = batching(engine)
    assert report["largest_batch"] == 2 and report["retried_batches"] == 1
    assert report["batches"] == 2 + 2  # two batches of two; the poisoned one's two calls, each alone
    assert report["rows"] == 6


def test_calls_that_cannot_be_batched_run_on_their_own(files: dict[str, Path]) -> None:
    engine = tsnative.Engine(files["two_inputs"], max_batch=4, batch_delay_us=LONG_DELAY_US, check_inputs=False)
    reference = tsnative.Engine(files["two_inputs"], check_inputs=False)
    unbatchable = [
        (torch.randn(5, 4), torch.randn(5, 4)),  # more rows than max_batch
        (torch.randn(2, 4), torch.randn(1, 4)),  # no dimension 0 shared by the inputs (h broadcasts)
    ]
    for args in unbatchable:
        assert torch.equal(engine.predict(*args)[0], reference.predict(*args)[0])
    assert batching(engine)["unbatched_calls"] == 2 and batching(engine)["calls"] == 0


# --- Outputs that cannot be cut into rows -------------------------------------------------------------------------


def test_an_output_without_rows_switches_batching_off_and_no_call_fails(files: dict[str, Path]) -> None:
    engine = tsnative.Engine(files["batch_sum"], max_batch=2, batch_delay_us=LONG_DELAY_US)
    torch.manual_seed(8)
    inputs = [torch.randn(1, 8) for _ in range(2)]
    outputs = outputs_in_order(engine, [(x,) for x in inputs])
    for x, (doubled, total) in zip(inputs, outputs, strict=True):
        assert torch.equal(doubled, x * 2.0)
        assert torch.equal(total, x.sum())  # the call's own sum: it ran alone
    report = batching(engine)
    assert report["disabled"] == "output[1] is a 0-dimensional tensor"
    engine.predict(inputs[0])
    assert batching(engine)["unbatched_calls"] == 1  # later calls no longer queue


def test_a_list_with_an_item_per_row_is_not_cut_and_switches_batching_off(files: dict[str, Path]) -> None:
    # Two one-row callers batched: the output is a list of two items of two rows each. Cut by rows, each caller got
    # two items, one of them computed from the other caller's input.
    engine = tsnative.Engine(files["item_per_row"], max_batch=8, batch_delay_us=LONG_DELAY_US)
    torch.manual_seed(9)
    inputs = [torch.randn(1, 8) for _ in range(2)]
    outputs = outputs_in_order(engine, [(x,) for x in inputs])
    for x, output in zip(inputs, outputs, strict=True):
        assert len(output) == 1
        assert torch.equal(output[0], torch.stack([x[0], x[0] * 10.0]))
    report = batching(engine)
    assert report["disabled"] == "output is a list of 2 items, as many as the batch's rows: an item per row"
    assert report["batches"] == 2 and report["rows"] == 2  # each call run alone, counted once


class Slow(torch.nn.Module):
    """Long enough per call (~0.1 s) that a fork lands while the batching worker runs a batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for _ in range(300):
            y = torch.tanh(y @ torch.ones(64, 64) * 0.01)
        return y


def test_a_child_forked_while_a_batch_runs_can_use_and_close_its_engine(tmp_path: Path) -> None:
    # At the fork the parent's worker held the engine's closing lock (shared, running a batch): a child that took it
    # exclusively (close(), or the engine's destructor at exit) waited for a thread it does not have.
    path = tsnative.export(Slow(), torch.randn(2, 64), tmp_path / "slow.pt").path
    engine = tsnative.Engine(path, max_batch=4, batch_delay_us=0)
    x = torch.randn(1, 64)
    expected = engine.predict(x)
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            engine.predict(x)

    threads = [threading.Thread(target=traffic) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: batching(engine)["batches"] >= 3)
        for _ in range(3):
            pid = os.fork()
            if pid == 0:  # the child: no worker thread; every call runs on its own
                code = 0 if torch.equal(engine.predict(x), expected) else 3
                engine.load_report  # noqa: B018 (reads the counters)
                engine.close()
                os._exit(code)
            deadline = time.monotonic() + 60
            while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
                time.sleep(0.01)
            if done == (0, 0):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            assert done != (0, 0), "the forked child hung"
            assert os.waitstatus_to_exitcode(done[1]) == 0
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    engine.close()


# --- Close, the destructor, the GIL ---------------------------------------------------------------------------------


def test_close_runs_the_queued_calls_then_refuses_new_ones(files: dict[str, Path]) -> None:
    engine = tsnative.Engine(files["exact"], max_batch=8, batch_delay_us=LONG_DELAY_US)
    reference = tsnative.Engine(files["exact"])
    inputs = [exact_rows(1, seed=20 + i) for i in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = submit_in_order(pool, engine, [(x,) for x in inputs])
        assert batching(engine)["queued"] == 3  # waiting for 5 more rows or a minute
        engine.close()  # runs them now
        for x, future in zip(inputs, futures, strict=True):
            assert torch.equal(future.result(), reference.predict(x))
    assert batching(engine)["batches"] == 1 and batching(engine)["queued"] == 0
    assert not batching(engine)["enabled"]  # a closed engine batches nothing
    with pytest.raises(ValueError, match="closed"):
        engine.predict(inputs[0])


def test_leaving_the_engines_block_runs_its_queued_calls(files: dict[str, Path]) -> None:
    pool = ThreadPoolExecutor(max_workers=2)
    with tsnative.Engine(files["exact"], max_batch=8, batch_delay_us=LONG_DELAY_US) as engine:
        futures = submit_in_order(pool, engine, [(exact_rows(1),), (exact_rows(1),)])
    # __exit__ closed the engine, which ran the two calls waiting for six more rows.
    assert engine.closed and all(future.result().shape == (1, 4) for future in futures)
    pool.shutdown()


def test_waiting_for_a_batch_holds_no_gil(files: dict[str, Path]) -> None:
    engine = tsnative.Engine(files["exact"], max_batch=4, batch_delay_us=LONG_DELAY_US)
    waiting = threading.Thread(target=engine.predict, args=(exact_rows(1),))
    waiting.start()
    # The caller waits in C++ for three more calls; had it kept the GIL, this thread could not run Python to read
    # the counters at all.
    wait_for(lambda: batching(engine)["queued"] == 1)
    assert waiting.is_alive()
    engine.close()
    waiting.join()
    assert batching(engine)["batches"] == 1


def test_dropping_an_engine_as_its_callers_return_does_not_deadlock(files: dict[str, Path]) -> None:
    # Each caller's input is a temporary, gone when its predict returns, and the engine is dropped (with the GIL held)
    # at once. A worker that still held those tensors would need the GIL to let them go while the destructor, holding
    # it, waited for the worker: this hung within ~100 rounds before the worker stopped holding callers' tensors.
    # (cpp/tests/batching_test.cpp also drops an engine with callers waiting, which Python cannot: a caller holds a
    # reference to its engine.)

    def call(engine: tsnative.Engine) -> tuple[int, ...]:
        return tuple(engine.predict(exact_rows(1)).shape)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(300):
            engine = tsnative.Engine(files["exact"], max_batch=2, batch_delay_us=LONG_DELAY_US)
            futures = [pool.submit(call, engine) for _ in range(2)]
            assert [future.result() for future in futures] == [(1, 4), (1, 4)]
            del engine, futures  # the last reference: destroyed here, or on a pool thread, with the GIL held


def test_numpy_inputs_are_batched(files: dict[str, Path]) -> None:
    # numpy arrays become tensors in C++ that release the array (with the GIL) when their last reference goes:
    # the caller's thread, not the worker, lets them go.
    engine = tsnative.Engine(files["exact"], max_batch=2, batch_delay_us=LONG_DELAY_US)
    reference = tsnative.Engine(files["exact"])
    arrays = [exact_rows(1, seed=40 + i).numpy() for i in range(2)]
    outputs = outputs_in_order(engine, [(array,) for array in arrays])
    for array, output in zip(arrays, outputs, strict=True):
        assert torch.equal(output, reference.predict(array))
    assert batching(engine)["largest_batch"] == 2
    del engine
    gc.collect()


# --- CUDA graphs: batches padded to a captured batch size (runs only where there is a GPU) ---------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_batch_is_padded_to_the_captured_batch_and_the_padding_dropped(files: dict[str, Path]) -> None:
    engine = tsnative.Engine(
        files["exact"],
        device="cuda",
        cuda_graphs=True,
        warmup_shapes=[(4, 8), (8, 8)],
        max_batch=8,
        batch_delay_us=LONG_DELAY_US,
    )
    reference = tsnative.Engine(files["exact"])
    inputs = [exact_rows(1, seed=30 + i) for i in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = submit_in_order(pool, engine, [(x,) for x in inputs])
        engine.close()  # runs the three rows now, padded to the graph captured for 4
        for x, future in zip(inputs, futures, strict=True):
            assert torch.equal(future.result(), reference.predict(x))
    assert batching(engine)["padded_rows"] == 1 and batching(engine)["batches"] == 1


# --- Where batching does not apply, and the option's checks -------------------------------------------------------


def test_a_file_without_a_recorded_dynamic_batch_is_not_batched(files: dict[str, Path], tmp_path: Path) -> None:
    plain = save_scripted(Poisonable(), tmp_path / "plain.pt")  # no metadata
    engine = tsnative.Engine(plain, max_batch=8)
    step = next(step for step in engine.load_report["steps"] if step["name"] == "dynamic_batching")
    assert not step["applied"] and "records no inputs" in step["reason"]
    assert not batching(engine)["enabled"]
    assert torch.equal(engine.predict(torch.ones(2, 8)), torch.full((2, 8), 3.0))

    fixed = tsnative.export(FixedBatch(), torch.randn(4, 8), tmp_path / "fixed.pt").path
    step = next(s for s in tsnative.Engine(fixed, max_batch=8).load_report["steps"] if s["name"] == "dynamic_batching")
    assert not step["applied"] and "input 'x' has no dynamic batch (recorded [4, 8]" in step["reason"]


def test_a_method_other_than_forward_is_not_batched(conv_files: dict[str, Path]) -> None:
    engine = tsnative.Engine(conv_files["script"], max_batch=8, method="embed")
    step = next(step for step in engine.load_report["steps"] if step["name"] == "dynamic_batching")
    assert not step["applied"] and "records the inputs of forward, not of method 'embed'" in step["reason"]
    assert engine.predict(torch.randn(2, 3, 16, 16)).shape == (2, 16)


def test_batching_off_by_default_and_with_max_batch_1(files: dict[str, Path]) -> None:
    for engine in (tsnative.Engine(files["exact"]), tsnative.Engine(files["exact"], max_batch=1)):
        assert not batching(engine)["enabled"]
        assert all(step["name"] != "dynamic_batching" for step in engine.load_report["steps"])


def test_option_values_are_checked(files: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="max_batch' expected a number >= 0, got -1"):
        tsnative.Engine(files["exact"], max_batch=-1)
    with pytest.raises(TypeError, match="max_batch' expected int, got str"):
        tsnative.Engine(files["exact"], max_batch="8")
    with pytest.raises(ValueError, match="batch_delay_us: expected at most 60000000"):
        tsnative.Engine(files["exact"], max_batch=8, batch_delay_us=61_000_000)
    assert "max_batch (int, default 0)" in tsnative.Engine.__doc__


def test_ts_infer_takes_the_batching_flags(files: dict[str, Path]) -> None:
    result = run_tool("ts-infer", files["exact"], "--max-batch", "8", "--batch-delay-us", "100", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["options"]["max_batch"] == 8 and report["options"]["batch_delay_us"] == 100
    assert "dynamic_batching up to 8 rows, 100 us" in report["optimizations"]
    refused = run_tool("ts-infer", files["exact"], "--max-batch", "-1")
    assert refused.returncode == 2 and "expected an integer >= 0, got -1" in refused.stderr


class Bags(torch.nn.Module):
    """(ids, offsets): an EmbeddingBag, whose 1-D inputs vary in length, not in rows."""

    def __init__(self) -> None:
        super().__init__()
        self.bag = torch.nn.EmbeddingBag(50, 4, mode="mean")

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.bag(ids, offsets)


def test_one_dimensional_inputs_of_any_length_are_not_batched(tmp_path: Path) -> None:
    # tsnative.export records the ids' and offsets' lengths as -1 when they verified at other lengths; joined as rows,
    # two calls' offsets would point into each other's ids.
    torch.manual_seed(10)
    model = Bags().eval()
    ids, offsets = torch.randint(0, 50, (23,)), torch.tensor([0, 5, 11, 17])
    path = tsnative.export(model, (ids, offsets), tmp_path / "bags.pt").path
    assert [i["shape"] for i in tsnative.Engine(path).metadata["inputs"]] == [[-1], [-1]]
    engine = tsnative.Engine(path, max_batch=4, batch_delay_us=LONG_DELAY_US)
    (step,) = [s for s in engine.load_report["steps"] if s["name"] == "dynamic_batching"]
    assert not step["applied"] and "input 'ids' is 1-D" in step["reason"]
    calls = [(torch.randint(0, 50, (3,)), torch.tensor([0, 1, 2])) for _ in range(3)]
    for (call_ids, call_offsets), output in zip(calls, outputs_in_order(engine, calls), strict=True):
        with torch.no_grad():
            torch.testing.assert_close(output, model(call_ids, call_offsets))
