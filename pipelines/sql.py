"""SQL over the output with DuckDB: a view named ``pages`` over every Parquet shard."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from ops.uris import is_object_store
from pipelines import outputs


class ReadOnlyQuery(ValueError):
    """The SQL would do more than read the output."""


def connect(
    output: str, memory_mb: int | None = None, spill_dir: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can read OUTPUT's pages and nothing else on the file system: no
    other file, no ATTACH, and (locked) no way to switch that off from SQL.

    An object-store OUTPUT is read through a pyarrow dataset over its shards (pyarrow's S3/GCS
    filesystems, the credentials and endpoint of the environment), registered in DuckDB: its
    own httpfs extension would be downloaded at run time, which pagemill never does. Filters and
    column choices still reach the dataset, so only what a query needs is fetched."""
    connection = duckdb.connect(":memory:")
    if memory_mb is not None:  # a bounded sort (export): spill to ``spill_dir`` beyond it
        connection.execute(f"SET memory_limit = '{int(memory_mb)}MB'")
    if spill_dir is not None:
        escaped = spill_dir.replace("'", "''")
        connection.execute(f"SET temp_directory = '{escaped}'")
    pages = outputs.pages_dir(output).rstrip("/")
    if is_object_store(pages):
        connection.register("pagemill_pages", _remote_pages(output))
        connection.execute("CREATE VIEW pages AS SELECT * FROM pagemill_pages")
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        return connection
    pages = os.path.abspath(pages.removeprefix("file://"))
    escaped = f"{pages}/**/*.parquet".replace("'", "''")
    connection.execute(
        f"CREATE VIEW pages AS SELECT * FROM read_parquet('{escaped}', union_by_name = true)"
    )
    allowed = f"{pages}/".replace("'", "''")
    connection.execute(f"SET allowed_directories = ['{allowed}']")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


def _remote_pages(output: str) -> Any:
    import pyarrow.dataset as pads

    from ops.schema import PAGE_SCHEMA
    from ops.uris import resolve

    filesystem, _ = resolve(outputs.pages_dir(output))
    paths = [resolve(shard)[1] for shard in outputs.list_shards(output)]
    # One schema for every shard: a shard from an older pagemill without a newer column reads
    # it as null, as DuckDB's union_by_name does for local outputs.
    return pads.dataset(paths, schema=PAGE_SCHEMA, filesystem=filesystem, format="parquet")


def check_read_only(connection: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Only SELECT statements: a COPY could otherwise write into the output's own folder."""
    for statement in connection.extract_statements(sql):
        if statement.type != duckdb.StatementType.SELECT:
            kind = str(statement.type).rsplit(".", 1)[-1]
            raise ReadOnlyQuery(
                f"pagemill query runs SELECT statements only (got {kind}); the output is never "
                "modified. Use DuckDB directly on a copy to transform it"
            )


def run_query(output: str, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with _reading(output, sql) as connection:
        result = connection.execute(sql)
        columns = [description[0] for description in result.description or []]
        return columns, result.fetchall()


@contextmanager
def _reading(output: str, sql: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to OUTPUT, once ``sql`` is known to only read."""
    if not outputs.has_pages(output):
        raise FileNotFoundError(f"no Parquet pages under {outputs.pages_dir(output)!r}")
    connection = connect(output)
    try:
        check_read_only(connection, sql)
        yield connection
    finally:
        connection.close()


@dataclass(frozen=True)
class QueryResult:
    """What :func:`pipelines.query` returns: the rows as an Arrow table (DuckDB's types kept),
    with the conversions a notebook wants. Iterating yields the rows as tuples."""

    table: pa.Table

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        return list(zip(*(column.to_pylist() for column in self.table.columns), strict=True))

    def arrow(self) -> pa.Table:
        return self.table

    def df(self) -> Any:
        """A pandas DataFrame."""
        return self.table.to_pandas()

    def pl(self) -> Any:
        """A Polars DataFrame (``pip install polars``)."""
        import polars

        return polars.from_arrow(self.table)

    def records(self) -> list[dict[str, Any]]:
        return self.table.to_pylist()

    def __len__(self) -> int:
        return self.table.num_rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def __repr__(self) -> str:
        shown = QueryResult(self.table.slice(0, REPR_ROWS)).rows
        cells = [[_cell(value, 40) for value in row] for row in shown]
        more = f"\n({self.table.num_rows} rows)" if self.table.num_rows > REPR_ROWS else ""
        return format_table(self.columns, cells) + more


REPR_ROWS = 20


def query_table(output: str, sql: str) -> QueryResult:
    """``sql`` over OUTPUT's ``pages`` view, as an Arrow table (the Python API)."""
    with _reading(output, sql) as connection:
        return QueryResult(connection.sql(sql).to_arrow_table())


def format_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: str, width: int = 60) -> str:
    if fmt == "json":
        return json.dumps(
            [dict(zip(columns, row, strict=True)) for row in rows],
            default=str,
            ensure_ascii=False,
            indent=1,
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    return format_table(columns, [[_cell(value, width) for value in row] for row in rows])


def format_table(columns: list[str], rows: list[list[str]]) -> str:
    """A plain-text table: numbers right-aligned, the rule's ``+`` under each ``|``."""
    widths = [len(name) for name in columns]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: list[str], numbers_right: bool) -> str:
        padded = (
            cell.rjust(width) if numbers_right and _NUMBER.match(cell) else cell.ljust(width)
            for cell, width in zip(cells, widths, strict=True)
        )
        return " " + " | ".join(padded).rstrip()

    rule = "+".join("-" * (width + 2) for width in widths)
    return "\n".join([line(columns, False), rule, *(line(row, True) for row in rows)])


# A cell that is a number (counts, rates, seconds, percentages): right-aligned so digits line up.
_NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?( ?(%|s|pages|MB|GB))?$")


def _cell(value: Any, width: int) -> str:
    text = "NULL" if value is None else str(value)
    text = text.replace("\n", "⏎")
    return text if len(text) <= width else text[: width - 1] + "…"
