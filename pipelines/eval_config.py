"""What ``pagemill eval`` is asked to do, and the truth it reads: the Ray-free half of
:mod:`pipelines.evaluation` (the CLI and ``import pipelines`` need it without starting Ray)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ops.evaluation.bench import BenchTruth, is_bench, load_bench_truth
from ops.evaluation.scoring import TEXT_LAYER, Truth
from ops.evaluation.truth import TruthIndex, load_folder, load_table
from ops.metrics.normalize import check_form, normalization_id
from ops.metrics.text import NED_FORM
from ops.passwords import Passwords
from ops.uris import join
from pipelines.outputs import EVAL_DIR, pages_dir

BENCH = "olmocr-bench"
TRUTH_FORMATS = ("auto", "folder", "table", TEXT_LAYER, BENCH)
GROUP_COLUMNS = ("route", "backend", "model", "source_kind")


@dataclass(frozen=True)
class EvalConfig:
    outputs: tuple[str, ...]  # one OUTPUT, or two with --compare
    truth: str  # a folder, a table file, or "text-layer"
    report: str | None = None  # default: OUTPUT/_eval (the first output's)
    truth_format: str = "auto"
    normalization: str = "n1"
    casefold: bool = False
    sample: float | None = None  # a fraction (0, 1], or a page count above 1
    group_by: tuple[str, ...] = ("route", "backend")
    workers: int | None = None  # scoring tasks in flight; default: the cluster's CPUs
    labels: tuple[str, ...] = ()  # names of the outputs in the report; default: folder names
    judge_model: str | None = None  # an LLM/VLM judge grades a sample of scored pages
    judge_url: str | None = None  # OpenAI-compatible endpoint (default: $OPENAI_BASE_URL)
    judge_api_key_env: str = "OPENAI_API_KEY"  # the variable's name; the key is never stored
    judge_pages: int = 50  # scored pages judged per output (lowest stable hash)
    judge_concurrency: int = 8
    passwords: Passwords = field(default_factory=Passwords)  # text-layer truth, page images
    progress: bool = True
    address: str | None = None
    num_cpus: int | None = None

    def validate(self) -> None:
        if not 1 <= len(self.outputs) <= 2:
            raise ValueError("evaluate one OUTPUT, or two with --compare")
        check_form(self.normalization)
        if self.truth_format not in TRUTH_FORMATS:
            raise ValueError(f"--truth-format must be one of {', '.join(TRUTH_FORMATS)}")
        unknown = [column for column in self.group_by if column not in GROUP_COLUMNS]
        if unknown:
            raise ValueError(
                f"cannot group by {', '.join(unknown)}: choose from {', '.join(GROUP_COLUMNS)}"
            )
        if self.sample is not None and self.sample <= 0:
            raise ValueError("--sample must be a fraction in (0, 1] or a number of pages")
        if self.workers is not None and self.workers < 1:
            raise ValueError("--workers must be at least 1")
        if self.judge_model and min(self.judge_pages, self.judge_concurrency) < 1:
            raise ValueError("--judge-pages and --judge-concurrency must be at least 1")
        for output in self.outputs:
            if not Path(pages_dir(output)).is_dir() and "://" not in output:
                raise FileNotFoundError(f"{output} holds no pagemill output (no pages/ folder)")

    def output_labels(self) -> tuple[str, ...]:
        if self.labels:
            if len(self.labels) != len(self.outputs):
                raise ValueError("give one --label per output")
            return self.labels
        return default_labels(self.outputs)

    def report_dir(self) -> str:
        """Absolute (a relative path would be resolved in the report task's directory)."""
        report = self.report or join(self.outputs[0], EVAL_DIR)
        return report if "://" in report else os.path.abspath(report)


@dataclass
class EvalResult:
    report: str
    summary: dict[str, Any]
    seconds: float
    pages_scored: int = field(default=0)


def load_truth(truth: str, truth_format: str = "auto") -> Truth:
    if truth_format == TEXT_LAYER or (truth_format == "auto" and truth == TEXT_LAYER):
        return TEXT_LAYER
    path = Path(truth)
    if not path.exists():
        raise FileNotFoundError(
            f"--truth {truth}: no such file or folder (a folder of text files, a .parquet/"
            f".jsonl table, an olmOCR-bench folder, or {TEXT_LAYER!r})"
        )
    if truth_format == BENCH or (truth_format == "auto" and path.exists() and is_bench(path)):
        return load_bench_truth(path)
    if truth_format == "folder" or (truth_format == "auto" and path.is_dir()):
        return load_folder(path)
    if truth_format == "table" or path.suffix in (".parquet", ".jsonl", ".ndjson", ".json"):
        return load_table(path)
    raise ValueError(
        f"--truth {truth}: expected a folder of text files, a .parquet/.jsonl table, or "
        f"'{TEXT_LAYER}'"
    )


def sample_fraction(sample: float | None, rows: int) -> float | None:
    """``--sample``: a fraction as given; a page count becomes the fraction of all ``rows``
    that draws about that many pages."""
    if sample is None or sample <= 1:
        return sample
    return min(1.0, sample / rows) if rows else None


def summary_header(config: EvalConfig, labels: tuple[str, ...], truth: Any) -> dict[str, Any]:
    truth_info: dict[str, Any]
    if isinstance(truth, BenchTruth):
        truth_info = {"format": BENCH, "description": truth.description, "entries": len(truth)}
    elif isinstance(truth, TruthIndex):
        truth_info = {
            "format": truth.kind,
            "description": truth.description,
            "entries": len(truth),
        }
    else:
        truth_info = {
            "format": TEXT_LAYER,
            "description": "the PDFs' own text layer, for pages that went through OCR",
            "entries": None,
        }
    return {
        "pagemill_eval": 1,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "outputs": dict(zip(labels, config.outputs, strict=True)),
        "truth": truth_info,
        "normalization": normalization_id(config.normalization, casefold=config.casefold),
        "ned_normalization": normalization_id(NED_FORM, casefold=config.casefold),
        "settings": {
            "sample": config.sample,
            "group_by": list(config.group_by),
            "workers": config.workers,
            "normalization": config.normalization,
            "casefold": config.casefold,
        },
    }


def default_labels(outputs: tuple[str, ...]) -> tuple[str, ...]:
    """Each output's folder name (``run-a``, ``run-b``), with as many parent folders as it takes
    to tell them apart (``2024/out`` and ``2025/out``); ``A``/``B`` only when nothing does."""
    parts = [
        [part for part in output.split("?", 1)[0].rstrip("/").split("/") if part]
        for output in outputs
    ]
    longest = max((len(names) for names in parts), default=0)
    for depth in range(1, longest + 1):
        labels = tuple(
            "/".join(names[-depth:]) or output for names, output in zip(parts, outputs, strict=True)
        )
        if len(set(labels)) == len(labels):
            return labels
    return ("A", "B", "C", "D")[: len(outputs)] if len(outputs) > 1 else ("output",)
