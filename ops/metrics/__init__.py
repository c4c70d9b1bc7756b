"""Deterministic evaluation metrics: text normalisation, per-page counts (CER, NED, WER,
bag-of-words) and their aggregates. Pure functions over strings and Arrow tables, no Ray.

``normalize`` here is the submodule; the function is ``ops.metrics.normalize.normalize`` (a
re-export under the same name would shadow the module depending on import order).
"""

from ops.metrics.aggregate import finalize, merge_partials, partial_summary, summarize
from ops.metrics.normalize import FORMS, normalization_id
from ops.metrics.text import PAGE_METRICS_SCHEMA, PageCounts, pages_table, score_page

__all__ = [
    "FORMS",
    "PAGE_METRICS_SCHEMA",
    "PageCounts",
    "finalize",
    "merge_partials",
    "normalization_id",
    "pages_table",
    "partial_summary",
    "score_page",
    "summarize",
]
