"""The model's forward batch size, adapted at run time inside one actor.

Two batch sizes exist and are kept apart: *rows per Ray call* (how many page rows Ray Data hands an
actor at once, fixed by the pipeline) and the *forward batch* (how many pages one engine call
reads). Only the second adapts, here:

- it starts from a configured size and never exceeds a pixel budget, so big pages get smaller
  batches;
- on out-of-memory it splits the batch and retries the **same pages** (none lost, none read
  twice into the output) and lowers its ceiling below the size that failed; a single page that
  still does not fit becomes that page's error;
- after a run of successes it tries a bigger size (halfway to the smallest size that ran out of
  memory, when one did) and keeps it only if the time per page improves; a size that failed or
  did not pay bounds the search, so the size settles instead of oscillating.

Every change is recorded in :attr:`AdaptiveBatcher.trajectory` (and logged) so a run can show how
its batch size moved.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

# Messages engines use for running out of device or host memory (PyTorch, vLLM, onnxruntime,
# CUDA driver errors) when they do not raise a dedicated exception type.
_OOM_MARKERS = ("out of memory", "outofmemory", "cuda_error_out_of_memory", "oom when allocating")


class OutOfMemory(RuntimeError):
    """An engine call ran out of (device) memory; smaller batches may still fit."""


def is_out_of_memory(exc: BaseException) -> bool:
    """True for the exceptions engines raise when a batch does not fit in memory."""
    if isinstance(exc, OutOfMemory | MemoryError):
        return True
    if type(exc).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError, without torch
        return True
    message = str(exc).lower()
    return any(marker in message for marker in _OOM_MARKERS)


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    initial: int = 8
    maximum: int = 64
    grow_after: int = 4  # successful batches at one size before a bigger one is tried
    min_gain: float = 0.05  # a bigger size must cut the time per page by this fraction
    max_cost: float | None = None  # budget per forward batch, in item cost units (pixels)

    def __post_init__(self) -> None:
        if not 1 <= self.initial <= self.maximum:
            raise ValueError(
                f"batch sizes must satisfy 1 <= initial ({self.initial}) <= maximum "
                f"({self.maximum})"
            )
        if self.grow_after < 1:
            raise ValueError("grow_after must be at least 1")


@dataclass(frozen=True, slots=True)
class BatchChange:
    size: int
    reason: str  # start | oom | grow | no_gain


@dataclass(frozen=True, slots=True)
class Outcome(Generic[Result]):
    """One item's result, or the out-of-memory error that a batch of one still raised."""

    result: Result | None
    batch_size: int  # size of the forward batch that produced it
    error: BaseException | None = None


class AdaptiveBatcher:
    def __init__(
        self, policy: BatchPolicy | None = None, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.policy = policy or BatchPolicy()
        self._clock = clock
        self.size = self.policy.initial
        self.ceiling = self.policy.maximum
        self.trajectory: list[BatchChange] = [BatchChange(self.size, "start")]
        self._streak = 0
        # Time per item at each size that completed a full streak; guides growth.
        self._seconds_per_item: dict[int, float] = {}
        self._streak_seconds = 0.0
        self._streak_items = 0
        self._smaller_before_growth: int | None = None
        self._smallest_oom: int | None = None

    def run(
        self,
        items: Sequence[Item],
        forward: Callable[[Sequence[Item]], Sequence[Result]],
        cost: Callable[[Item], float] | None = None,
    ) -> list[Outcome[Result]]:
        """Outcomes for ``items``, in order, one each: ``forward`` reads them in adaptive batches.

        Out-of-memory errors are handled here; any other exception from ``forward`` propagates
        (the caller isolates the failing page).
        """
        outcomes: list[Outcome[Result] | None] = [None] * len(items)
        start = 0
        while start < len(items):
            stop = self._cut(items, start, cost)
            chunk = items[start:stop]
            began = self._clock()
            try:
                results = list(forward(chunk))
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                if len(chunk) == 1:
                    for index in range(start, stop):
                        outcomes[index] = Outcome(None, len(chunk), exc)
                    start = stop
                    continue
                self._shrink(len(chunk))
                continue  # the same items again, in a smaller batch
            if len(results) != len(chunk):
                raise RuntimeError(
                    f"engine returned {len(results)} results for a batch of {len(chunk)}"
                )
            for offset, result in enumerate(results):
                outcomes[start + offset] = Outcome(result, len(chunk))
            self._succeeded(len(chunk), self._clock() - began)
            start = stop
        return [outcome for outcome in outcomes if outcome is not None]

    def _cut(self, items: Sequence[Item], start: int, cost: Callable[[Item], float] | None) -> int:
        """End of the next forward batch: at most ``size`` items and within the cost budget."""
        stop = min(len(items), start + self.size)
        budget = self.policy.max_cost
        if cost is None or budget is None:
            return stop
        spent = 0.0
        for index in range(start, stop):
            spent += cost(items[index])
            if spent > budget and index > start:
                return index
        return stop

    def _shrink(self, failed_size: int) -> None:
        if self._smallest_oom is None or failed_size < self._smallest_oom:
            self._smallest_oom = failed_size
        self.ceiling = max(1, min(self.ceiling, failed_size - 1))
        self.size = max(1, min(self.ceiling, failed_size // 2))
        self._smaller_before_growth = None
        self._reset_streak()
        self._change("oom")

    def _succeeded(self, batch_size: int, seconds: float) -> None:
        if batch_size < self.size:  # a short tail batch says nothing about the current size
            return
        self._streak += 1
        self._streak_seconds += seconds
        self._streak_items += batch_size
        if self._streak < self.policy.grow_after:
            return
        per_item = self._streak_seconds / self._streak_items
        self._seconds_per_item[self.size] = per_item
        self._reset_streak()
        previous = self._smaller_before_growth
        if previous is not None and not self._improved(previous, per_item):
            # Growing did not pay: go back and stay there.
            self.size = previous
            self.ceiling = previous
            self._smaller_before_growth = None
            self._change("no_gain")
            return
        bigger = min(self.ceiling, self.size * 2)
        if self._smallest_oom is not None:
            bigger = min(bigger, (self.size + self._smallest_oom) // 2)
        if bigger > self.size:
            self._smaller_before_growth = self.size
            self.size = bigger
            self._change("grow")
        else:
            self._smaller_before_growth = None

    def _improved(self, previous_size: int, per_item: float) -> bool:
        before = self._seconds_per_item.get(previous_size)
        return before is None or per_item <= before * (1.0 - self.policy.min_gain)

    def _reset_streak(self) -> None:
        self._streak = 0
        self._streak_seconds = 0.0
        self._streak_items = 0

    def _change(self, reason: str) -> None:
        self.trajectory.append(BatchChange(self.size, reason))
        logger.info("forward batch size %d (%s; ceiling %d)", self.size, reason, self.ceiling)
