"""What the evaluation driver settles before any scoring task starts, from the shards' key columns.

Reading five small columns of every shard (a few percent of the bytes; the text column is the
bulk) buys three things:

* **Superseded rows are skipped**, by the rules the conversion's own reconciliation applies
  (:func:`ops.reconcile.superseded_rows`), without rewriting anything: an output that a run is
  still writing, or one whose last run was killed before it reconciled, is scored as it will
  be once reconciled, with no page counted twice.
* **Each task gets only its shard's truth.** Shipping the whole truth to every task costs its
  deserialisation per task (0.1 s per task for 20,000 table entries, growing with the truth);
  a shard of 1,000 pages needs at most 1,000 of them.
* **Row counts** turn ``--sample 500`` into a fraction without another pass over the footers,
  and group small shards into scoring tasks of a bounded size (:func:`task_groups`).

A shard whose key columns cannot be read is settled here too: it is reported as unreadable and
never becomes a task.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ops.reconcile import KEY_COLUMNS, superseded_rows
from ops.shards import read_columns

# Key columns are small reads, latency-bound on object stores (the threads wait, not compute).
READ_THREADS = {"local": 8, "remote": 32}
# Rows per scoring task: shards are grouped up to a target between these bounds (a task costs
# ~10 ms of scheduling and start-up, a page ~0.5 ms to score) ...
MIN_TASK_ROWS, MAX_TASK_ROWS = 250, 5_000
TASKS_PER_WORKER = 8  # ... aiming at this many tasks per worker, so the last ones finish together
MAX_SHARDS_PER_TASK = 1_000

Document = tuple[str, str | None]  # (source_uri, doc_id)


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """What a scoring task needs to know of one shard before it reads it."""

    path: str
    rows: int = 0  # rows in the shard, superseded ones included
    skip: tuple[int, ...] = ()  # positions of superseded rows
    documents: tuple[Document, ...] = ()  # distinct (source_uri, doc_id) of the rows kept
    failure: str | None = None  # the key columns could not be read


@dataclass(slots=True)
class OutputPlan:
    shards: list[ShardPlan] = field(default_factory=list)
    superseded: dict[str, int] = field(default_factory=dict)  # reason -> rows skipped

    @property
    def rows(self) -> int:
        """Rows that will be scored or sampled: superseded ones left out."""
        return sum(shard.rows - len(shard.skip) for shard in self.shards if not shard.failure)


def plan_output(paths: Sequence[str]) -> OutputPlan:
    """The plan of one output's shards (``paths`` as :func:`pipelines.outputs.list_shards`
    lists them, scheme included)."""
    remote = bool(paths) and "://" in paths[0] and not paths[0].startswith("file://")
    threads = READ_THREADS["remote" if remote else "local"]
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(paths) or 1))) as pool:
        keys = list(pool.map(_read_keys, paths))
    readable = [
        (path, table)
        for path, table in zip(paths, keys, strict=True)
        if isinstance(table, pa.Table)
    ]
    drops, reasons = superseded_rows(readable)
    shards = []
    for path, table in zip(paths, keys, strict=True):
        if not isinstance(table, pa.Table):
            shards.append(ShardPlan(path, failure=table))
            continue
        skip = tuple(sorted(drops.get(path, ())))
        shards.append(ShardPlan(path, table.num_rows, skip, _documents(table, skip)))
    return OutputPlan(shards, reasons)


def _read_keys(path: str) -> pa.Table | str:
    try:
        return read_columns(path, KEY_COLUMNS)
    except Exception as exc:  # any reason at all: this shard is reported, the rest go on
        return f"cannot read the shard: {type(exc).__name__}: {exc}"


def _documents(table: pa.Table, skip: tuple[int, ...]) -> tuple[Document, ...]:
    if skip:
        table = table.filter(keep_mask(table.num_rows, skip))
    # A Python dedupe: an Arrow group_by costs ~0.25 ms of set-up per shard, which was a
    # quarter of planning an output of many small shards.
    pairs = zip(table["source_uri"].to_pylist(), table["doc_id"].to_pylist(), strict=True)
    return tuple(dict.fromkeys(pairs))


def keep_mask(rows: int, skip: Sequence[int]) -> pa.Array:
    """A filter mask that keeps every row but those at ``skip``."""
    keep = np.ones(rows, dtype=bool)
    keep[list(skip)] = False
    return pa.array(keep)


def task_groups(shards: Sequence[ShardPlan], workers: int) -> list[list[ShardPlan]]:
    """Consecutive shards grouped into scoring tasks of a bounded number of rows. Runs leave
    many small shards (a text-route batch or an OCR batch each): 2,000 shards of 10 rows took
    22 s to score one task per shard, against 7 s for the same pages in 20 shards. A shard above
    the target is a task of its own."""
    total = sum(shard.rows for shard in shards)
    target = min(MAX_TASK_ROWS, max(MIN_TASK_ROWS, total // max(1, workers * TASKS_PER_WORKER)))
    groups: list[list[ShardPlan]] = []
    current: list[ShardPlan] = []
    rows = 0
    for shard in shards:
        if shard.rows >= target and current:  # a big shard is not held up by small ones
            groups.append(current)
            current, rows = [], 0
        current.append(shard)
        rows += shard.rows
        if rows >= target or len(current) >= MAX_SHARDS_PER_TASK:
            groups.append(current)
            current, rows = [], 0
    if current:
        groups.append(current)
    return groups
