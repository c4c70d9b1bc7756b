"""Ray-aware composition of ``ops``: the conversion job, its CLI, querying and evaluating the
output.

The public API, used by the README and notebooks::

    from pipelines import RunConfig, run, query, EvalConfig, evaluate
"""

from __future__ import annotations

from pipelines.config import RunConfig
from pipelines.eval_config import EvalConfig


def run(config: RunConfig):
    from pipelines.convert import run as _run

    return _run(config)


def query(output: str, sql: str):
    """``sql`` (SELECT only) over OUTPUT's ``pages`` view, as a
    :class:`pipelines.sql.QueryResult`: ``.df()`` (pandas), ``.pl()`` (Polars), ``.arrow()``,
    ``.records()``, ``.columns``; iterating yields the rows as tuples."""
    from pipelines.sql import query_table

    return query_table(output, sql)


def evaluate(config: EvalConfig):
    """Score an output against truth and write the report (``pagemill eval``)."""
    from pipelines.evaluation import evaluate as _evaluate

    return _evaluate(config)


__all__ = ["EvalConfig", "RunConfig", "evaluate", "query", "run"]
