"""Ray-aware composition of ``ops``: the conversion job, its CLI, querying the output.

The public API, used by the README and notebooks::

    from pipelines import RunConfig, run, query
"""

from pipelines.config import RunConfig


def run(config: RunConfig):
    from pipelines.convert import run as _run

    return _run(config)


def query(output: str, sql: str):
    """``(columns, rows)`` of ``sql`` over OUTPUT's ``pages`` view."""
    from pipelines.sql import run_query

    return run_query(output, sql)


__all__ = ["RunConfig", "query", "run"]
