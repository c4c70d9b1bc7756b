"""Judges: evaluators that grade extracted page text with a model instead of a formula.

Unlike the deterministic metrics, a judge is remote and non-deterministic, so it retries
transient failures and records an ``invalid_reason`` per page instead of failing its group.
"""

from ops.judges.llm import LlmJudge
from ops.judges.prompt import PROMPT_VERSION
from ops.judges.results import JUDGE_SCHEMA, JudgeItem, JudgeResult, judge_items, to_table

__all__ = [
    "JUDGE_SCHEMA",
    "PROMPT_VERSION",
    "JudgeItem",
    "JudgeResult",
    "LlmJudge",
    "judge_items",
    "to_table",
]
