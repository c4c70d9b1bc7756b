"""Adaptive forward batches, driven by a simulated engine with an out-of-memory threshold and a
latency curve on a simulated clock (deterministic: no real time is measured)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from ops.batching import AdaptiveBatcher, BatchPolicy, OutOfMemory, is_out_of_memory


class SimulatedEngine:
    """Doubles its inputs; raises OutOfMemory when a batch costs more than ``memory``."""

    def __init__(
        self,
        memory: float = float("inf"),
        latency: Callable[[int], float] = lambda n: 1.0 + 0.1 * n,
        cost: Callable[[int], float] = lambda item: 1.0,
    ) -> None:
        self.memory = memory
        self.latency = latency
        self.cost = cost
        self.now = 0.0
        self.calls: list[list[int]] = []
        self.ooms = 0

    def clock(self) -> float:
        return self.now

    def forward(self, batch: Sequence[int]) -> list[int]:
        self.calls.append(list(batch))
        self.now += self.latency(len(batch))
        if sum(self.cost(item) for item in batch) > self.memory:
            self.ooms += 1
            raise OutOfMemory(f"batch of {len(batch)} does not fit")
        return [item * 2 for item in batch]


def run_all(batcher: AdaptiveBatcher, engine: SimulatedEngine, items: list[int], call_rows: int):
    """Feed ``items`` the way an actor receives them: ``call_rows`` rows per Ray call."""
    outcomes = []
    for start in range(0, len(items), call_rows):
        outcomes += batcher.run(items[start : start + call_rows], engine.forward)
    return outcomes


def test_oom_splits_the_batch_and_every_item_comes_out_exactly_once_in_order():
    engine = SimulatedEngine(memory=5)
    batcher = AdaptiveBatcher(BatchPolicy(initial=16, maximum=64), clock=engine.clock)
    items = list(range(200))
    outcomes = run_all(batcher, engine, items, call_rows=16)
    assert [outcome.result for outcome in outcomes] == [item * 2 for item in items]
    assert all(outcome.error is None and outcome.batch_size <= 5 for outcome in outcomes)
    assert batcher.ceiling <= 5
    assert [change.reason for change in batcher.trajectory][:2] == ["start", "oom"]
    # Each item was read successfully exactly once (failed attempts returned nothing).
    succeeded = [item for call in engine.calls if len(call) <= 5 for item in call]
    assert sorted(succeeded) == items


def test_search_after_oom_converges_with_few_failures():
    engine = SimulatedEngine(memory=11, latency=lambda n: 1.0 + 0.05 * n)
    batcher = AdaptiveBatcher(BatchPolicy(initial=8, maximum=64, grow_after=2), clock=engine.clock)
    outcomes = run_all(batcher, engine, list(range(2000)), call_rows=64)
    assert all(outcome.error is None for outcome in outcomes)
    assert 9 <= batcher.size <= 11  # close to the largest size that fits
    assert engine.ooms <= 4
    assert batcher.trajectory[-1].size == batcher.size


def test_batch_grows_while_time_per_item_improves():
    # A fixed cost per call: bigger batches are cheaper per item, up to the maximum.
    engine = SimulatedEngine(latency=lambda n: 1.0 + 0.1 * n)
    batcher = AdaptiveBatcher(BatchPolicy(initial=2, maximum=32, grow_after=3), clock=engine.clock)
    run_all(batcher, engine, list(range(3000)), call_rows=64)
    assert batcher.size == 32
    assert [change.size for change in batcher.trajectory] == [2, 4, 8, 16, 32]


def test_growth_that_does_not_pay_is_undone_and_not_retried():
    # Time is proportional to the batch: no size is better than another.
    engine = SimulatedEngine(latency=lambda n: 0.1 * n)
    batcher = AdaptiveBatcher(BatchPolicy(initial=4, maximum=64, grow_after=2), clock=engine.clock)
    run_all(batcher, engine, list(range(1000)), call_rows=32)
    assert batcher.size == 4
    assert [(change.size, change.reason) for change in batcher.trajectory] == [
        (4, "start"),
        (8, "grow"),
        (4, "no_gain"),
    ]


def test_cost_budget_gives_big_items_smaller_batches():
    sizes = {index: (4.0 if index % 10 == 0 else 1.0) for index in range(100)}
    engine = SimulatedEngine(cost=sizes.__getitem__)
    policy = BatchPolicy(initial=8, maximum=8, max_cost=6.0)
    batcher = AdaptiveBatcher(policy, clock=engine.clock)
    outcomes = batcher.run(list(range(100)), engine.forward, cost=sizes.__getitem__)
    assert [outcome.result for outcome in outcomes] == [item * 2 for item in range(100)]
    assert all(sum(sizes[item] for item in call) <= 6.0 for call in engine.calls)
    assert max(len(call) for call in engine.calls) == 6


def test_an_item_that_alone_does_not_fit_is_that_items_error_only():
    sizes = {index: (50.0 if index == 3 else 1.0) for index in range(8)}
    engine = SimulatedEngine(memory=10, cost=sizes.__getitem__)
    batcher = AdaptiveBatcher(BatchPolicy(initial=8), clock=engine.clock)
    outcomes = batcher.run(list(range(8)), engine.forward)
    assert [outcome.error is not None for outcome in outcomes] == [i == 3 for i in range(8)]
    assert [outcome.result for outcome in outcomes if outcome.error is None] == [
        0,
        2,
        4,
        8,
        10,
        12,
        14,
    ]


def test_other_engine_errors_propagate_to_the_caller():
    def forward(batch):
        raise ValueError("bad page")

    with pytest.raises(ValueError, match="bad page"):
        AdaptiveBatcher().run([1, 2, 3], forward)


def test_wrong_number_of_results_is_an_error():
    with pytest.raises(RuntimeError, match="2 results for a batch of 3"):
        AdaptiveBatcher().run([1, 2, 3], lambda batch: [0, 0])


class OutOfMemoryError(RuntimeError):
    """Same name as torch.cuda.OutOfMemoryError, which the check recognises without torch."""


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (OutOfMemory("x"), True),
        (MemoryError(), True),
        (OutOfMemoryError("CUDA"), True),
        (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
        (RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate"), False),
        (ValueError("bad input"), False),
    ],
)
def test_out_of_memory_is_recognised_by_type_or_message(exc, expected):
    assert is_out_of_memory(exc) is expected


def test_policy_rejects_impossible_sizes():
    with pytest.raises(ValueError, match="initial"):
        BatchPolicy(initial=0)
    with pytest.raises(ValueError, match="initial"):
        BatchPolicy(initial=10, maximum=4)
