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
* **Row counts** turn ``--sample 500`` into a fraction without another pass over the footers.

A shard whose key columns cannot be read is settled here too: it is reported as unreadable and
never becomes a task.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ops.reconcile import KEY_COLUMNS, superseded_rows
from ops.shards import resolve

READ_THREADS = 8  # footers and key columns are small reads: latency-bound on object stores

Document = tuple[str, str | None]  # (source_uri, doc_id)


@dataclass(frozen=True, slots=True)
class ShardPlan:
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


def plan_output(paths: Sequence[str], threads: int = READ_THREADS) -> OutputPlan:
    """The plan of one output's shards (``paths`` as :func:`pipelines.outputs.list_shards`
    lists them, scheme included)."""
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
        filesystem, location = resolve(path)
        return pq.read_table(location, columns=KEY_COLUMNS, filesystem=filesystem)
    except Exception as exc:  # any reason at all: this shard is reported, the rest go on
        return f"cannot read the shard: {type(exc).__name__}: {exc}"


def _documents(table: pa.Table, skip: tuple[int, ...]) -> tuple[Document, ...]:
    if skip:
        table = table.filter(keep_mask(table.num_rows, skip))
    pairs = table.select(["source_uri", "doc_id"]).group_by(["source_uri", "doc_id"]).aggregate([])
    return tuple(
        zip(pairs.column("source_uri").to_pylist(), pairs.column("doc_id").to_pylist(), strict=True)
    )


def keep_mask(rows: int, skip: Sequence[int]) -> pa.Array:
    """A filter mask that keeps every row but those at ``skip``."""
    keep = np.ones(rows, dtype=bool)
    keep[list(skip)] = False
    return pa.array(keep)
