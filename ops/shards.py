"""Writing Parquet shards atomically under deterministic names.

A shard is written to a hidden temporary name and then renamed, so readers (DuckDB globbing
``**/*.parquet``) never see a half-written file, and a retried task that rewrites the same work
replaces its shard instead of duplicating rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ops.schema import PAGE_SCHEMA, conform
from ops.uris import from_listing, resolve

COMPRESSION = "zstd"
# Readers skip names starting with this (pyarrow datasets ignore them; DuckDB globs *.parquet).
TEMPORARY_PREFIX = "."


def read_columns(uri: str, columns: Sequence[str], optional: Sequence[str] = ()) -> pa.Table:
    """``columns`` of one Parquet file, by path or URI, and the ``optional`` ones it has (null
    where it has not: shards written before the column existed). Through ``ParquetFile`` on the
    resolved filesystem: ``pq.read_table`` builds a dataset per call, which made reading 2,000
    small shards take 2.7 s against 1.8 s (and 0.8 s with four threads, as the evaluation plan
    reads them)."""
    filesystem, path = resolve(uri)
    with filesystem.open_input_file(path) as stream:
        parquet = pq.ParquetFile(stream)
        names = parquet.schema_arrow.names
        # ParquetFile.read skips a column the file lacks; pq.read_table raised, and so do we.
        missing = [name for name in columns if name not in names]
        if missing:
            raise ValueError(f"{uri} has no column {', '.join(missing)}: not a pagemill page shard")
        present = [name for name in optional if name in names]
        table = parquet.read(columns=[*columns, *present])
    for name in optional:
        if name not in present:
            table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    return table


def shard_name(prefix: str, keys: Iterable[str]) -> str:
    """``prefix-<digest>`` where the digest identifies the work the shard holds."""
    digest = hashlib.sha256("\n".join(keys).encode("utf-8")).hexdigest()[:24]
    return f"{prefix}-{digest}"


def write_shard(table: pa.Table, directory: str, name: str) -> str:
    """Write ``table`` (conformed to the page schema) as ``directory/name.parquet``."""
    return write_atomically(
        directory,
        f"{name}.parquet",
        lambda stream: pq.write_table(conform(table, PAGE_SCHEMA), stream, compression=COMPRESSION),
    )


def write_atomically(directory: str, name: str, write: Callable[[Any], None]) -> str:
    """``write(stream)`` to a hidden temporary beside ``directory/name``, then rename it, so a
    reader sees the whole file or none (local paths and object-store URIs alike)."""
    filesystem, root = resolve(directory)
    filesystem.create_dir(root, recursive=True)
    final = f"{root}/{name}"
    temporary = f"{root}/{TEMPORARY_PREFIX}{name}.tmp"
    with filesystem.open_output_stream(temporary) as stream:
        write(stream)
    filesystem.move(temporary, final)
    # Object-store filesystems take and give paths without their scheme; callers get the URI.
    return from_listing(directory, final)
