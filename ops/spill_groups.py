"""Grouping rows by document in bounded memory: spread them over bucket files, sort each.

An output's pages of one document can sit in many shards (text-route pages in the page tasks'
shards, OCR pages in the OCR writers'), so exporting a document needs all its rows together.
A sort of the whole output holds or spills all its text; DuckDB's ORDER BY ran out of memory at
128 MB on 100,000 pages of 1 KB instead of spilling. Here every row goes to one of ``buckets``
Arrow IPC files on local disk by a hash of its document (computed by the caller), and each
bucket, small enough to fit the budget, is read back and sorted on its own: memory is one
bucket, whatever the output's size.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from ops.uris import resolve

BUCKET_COLUMN = "_bucket"


def bucket_count(shards: Iterable[str], budget_bytes: int) -> int:
    """Buckets so that one holds about ``budget_bytes`` of uncompressed row data, from the
    shards' Parquet footers (text compresses many times over, so file sizes would mislead)."""
    total = 0
    for uri in shards:
        filesystem, path = resolve(uri)
        with filesystem.open_input_file(path) as stream:
            metadata = pq.ParquetFile(stream).metadata
            groups = range(metadata.num_row_groups)
            total += sum(metadata.row_group(i).total_byte_size for i in groups)
    return max(1, math.ceil(total / max(1, budget_bytes)))


class SpilledGroups:
    """Rows written to ``buckets`` files under ``directory`` by their ``BUCKET_COLUMN``, then
    read back bucket by bucket, sorted."""

    def __init__(self, directory: str, buckets: int) -> None:
        self._directory = directory
        self._buckets = buckets
        self._writers: dict[int, ipc.RecordBatchFileWriter] = {}

    def _path(self, bucket: int) -> str:
        return os.path.join(self._directory, f"bucket-{bucket:05d}.arrow")

    def add(self, batch: pa.RecordBatch) -> None:
        buckets = batch.column(BUCKET_COLUMN)
        for bucket in pc.unique(buckets).to_pylist():
            part = batch.filter(pc.equal(buckets, bucket)).drop_columns([BUCKET_COLUMN])
            writer = self._writers.get(bucket)
            if writer is None:
                writer = self._writers[bucket] = ipc.new_file(self._path(bucket), part.schema)
            writer.write_batch(part)

    def sorted_buckets(self, keys: Sequence[tuple[str, str]]) -> Iterator[pa.Table]:
        """Each non-empty bucket as one table sorted by ``keys``; its file is removed once read."""
        for writer in self._writers.values():
            writer.close()
        for bucket in sorted(self._writers):
            path = self._path(bucket)
            with pa.memory_map(path) as source:
                # The sort copies the rows out of the mapped file, which can then go.
                table = ipc.open_file(source).read_all().sort_by(list(keys))
            os.remove(path)
            yield table
        self._writers.clear()
