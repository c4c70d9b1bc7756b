"""Evaluation as its own Ray Core task graph, apart from the conversion pipeline.

    list + plan ─► score_shards × N ─► score_documents × K ─► summarize × G ─► report × 1
    (driver)       (a shard or a      (multi-page documents   (overall, each    (pinned to
                    group of small     with one truth text)    group-by column,  this node)
                    ones; bounded in                           documents)
                    flight)

Truth is loaded once on the driver; the plan (:mod:`ops.evaluation.plan`, from the shards' key
columns) hands each scoring task only its shards' truth and the positions of superseded rows to
skip. A shard that cannot be read is reported in the summary and the rest is scored; truth
entries no shard matched are counted as missing from the output. It runs on a local Ray or on the
cluster that made the output (``--address``), after or alongside a conversion: it reads only
finished shards, and scores rows a run has superseded but not yet removed as reconciliation
will leave them (one row per page).
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from ops.evaluation.bench import BenchTruth, bench_summary
from ops.evaluation.plan import Document, OutputPlan, ShardPlan, plan_output, task_groups
from ops.evaluation.report import (
    DocumentScores,
    build_summary,
    coverage_of,
    write_report,
)
from ops.evaluation.scoring import (
    DOC_PART_SCHEMA,
    ScoringSettings,
    ShardScores,
    Truth,
    judge_sample,
    score_documents,
    score_shards,
    worst_pages,
)
from ops.evaluation.truth import TruthIndex
from ops.metrics.aggregate import finalize, merge_partials, partial_summary
from ops.passwords import Passwords
from pipelines.eval_config import (
    EvalConfig,
    EvalResult,
    load_truth,
    sample_fraction,
    summary_header,
)
from pipelines.outputs import list_shards
from pipelines.runtime import cluster_cpus, ensure_ray

DOCUMENT_TASKS = 4  # whole-document scoring is split by document into this many tasks
WORST_PAGES = 20


@ray.remote(num_cpus=1)
def _score_shards_task(
    shards: list[tuple[str, tuple[int, ...], int]], truth: Any, settings: ScoringSettings
) -> ShardScores:
    return score_shards(shards, truth, settings)


@ray.remote(num_cpus=1)
def _score_documents_task(
    parts: pa.Table, truth: TruthIndex, settings: ScoringSettings
) -> tuple[pa.Table, int, list[dict[str, Any]]]:
    return score_documents(parts, truth, settings)


@ray.remote(num_cpus=1)
def _summarize_task(scores: pa.Table, group_by: list[str]) -> list[dict[str, Any]]:
    """One aggregation (overall, one group-by column, or per document), from the page scores'
    integer counts: partial summaries per batch of pages, merged."""
    partials = [
        partial_summary(pa.Table.from_batches([batch]), group_by)
        for batch in scores.to_batches(max_chunksize=100_000)
    ]
    if not partials:
        return []
    return finalize(merge_partials(partials, group_by), group_by)


def evaluate(config: EvalConfig) -> EvalResult:
    """Score ``config.outputs`` against ``config.truth`` and write the report."""
    config.validate()
    judge = _judge_of(config)  # a missing extra or endpoint is reported before any scoring
    began = time.perf_counter()
    timings: dict[str, float] = {}
    clock = _Clock(timings)
    truth = load_truth(config.truth, config.truth_format)
    labels = config.output_labels()
    plans = {
        label: plan_output(list_shards(output))
        for label, output in zip(labels, config.outputs, strict=True)
    }
    clock("truth_listing_and_plan")
    started = ensure_ray(config.address, config.num_cpus)
    clock("ray_start")
    try:
        # One fraction for every output (from the first), so --compare samples the same pages.
        settings = {label: _settings(config, label, plans[labels[0]]) for label in labels}
        results = _run_scoring(plans, settings, truth, config)
        clock("scoring")
        documents = _score_documents(results, truth, config, labels)
        clock("documents")
        scores = pa.concat_tables(
            [scores.scores for label in labels for scores in results[label]]
            + [documents[label].scores for label in labels]
        ).combine_chunks()  # one chunk per shard would make each aggregation loop per shard
        scores_ref = ray.put(scores)
        aggregates = _aggregate(scores_ref, config.group_by)
        coverage = {
            label: coverage_of(
                results[label],
                documents[label],
                truth,
                sampled=config.sample is not None,
                superseded=plans[label].superseded,
            )
            for label in labels
        }
        worst = worst_pages(
            [scores.worst for label in labels for scores in results[label]]
            + [documents[label].worst for label in labels],
            WORST_PAGES,
        )
        summary = build_summary(
            summary_header(config, labels, truth), coverage, aggregates, config.group_by
        )
        if isinstance(truth, BenchTruth):
            summary["bench"] = {
                label: bench_summary(truth, _outcomes(results[label]), settings[label].sample)
                for label in labels
            }
        clock("aggregation")
        judged = _judge(judge, config, results)
        if judged is not None:
            from ops.evaluation.judging import judge_summary

            summary["judge"] = judge_summary(judged)
            clock("judge")
        summary["timings_s"] = timings
        # The report is written where the command runs: pin its task to this node.
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        summary = ray.get(
            _report_task.options(scheduling_strategy=here, num_cpus=0).remote(
                config.report_dir(), summary, scores_ref, worst, labels, judged, config.passwords
            )
        )
        clock("report")
    finally:
        if started:
            ray.shutdown()
    return EvalResult(config.report_dir(), summary, time.perf_counter() - began, scores.num_rows)


class _Clock:
    """Seconds per phase, recorded in the summary (where does an evaluation spend its time?)."""

    def __init__(self, timings: dict[str, float]) -> None:
        self._timings = timings
        self._last = time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self._timings[phase] = round(now - self._last, 3)
        self._last = now


def _settings(config: EvalConfig, label: str, plan: OutputPlan) -> ScoringSettings:
    return ScoringSettings(
        label=label,
        normalization=config.normalization,
        casefold=config.casefold,
        sample=sample_fraction(config.sample, plan.rows),
        worst=WORST_PAGES,
        judge_pages=config.judge_pages if config.judge_model else 0,
        passwords=config.passwords,
    )


def _judge_of(config: EvalConfig) -> Any:
    if not config.judge_model:
        return None
    from ops.judges import LlmJudge

    return LlmJudge(
        model=config.judge_model,
        base_url=config.judge_url,
        api_key_env=config.judge_api_key_env,
        max_concurrency=config.judge_concurrency,
    )


@ray.remote(num_cpus=0)
def _judge_task(judge: Any, candidates: list[dict[str, Any]], passwords: Passwords) -> pa.Table:
    from ops.evaluation.judging import judge_pages

    return judge_pages(judge, candidates, passwords)


def _judge(
    judge: Any, config: EvalConfig, results: dict[str, list[ShardScores]]
) -> pa.Table | None:
    """Grade ``--judge-pages`` scored pages per output with the LLM judge in one task (the
    endpoint, not the cluster, is the limit: ``judge_concurrency`` requests in flight)."""
    if judge is None:
        return None
    candidates = judge_sample(
        (
            entry
            for shards in results.values()
            for shard in shards
            for entry in shard.judge_candidates
        ),
        config.judge_pages,
    )
    if not candidates:
        return None
    # On this node: the API key is in this environment, and a localhost URL means this machine.
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    task = _judge_task.options(scheduling_strategy=here)
    return ray.get(task.remote(judge, candidates, config.passwords))


def _aggregate(scores_ref: Any, group_by: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """One aggregation task per view of the scores, run in parallel."""
    groupings = {"overall": ["output"], "documents": ["output", "source_uri"]}
    groupings.update({column: ["output", column] for column in group_by})
    refs = [_summarize_task.remote(scores_ref, keys) for keys in groupings.values()]
    return dict(zip(groupings, ray.get(refs), strict=True))


@ray.remote(num_cpus=1)
def _report_task(
    report: str,
    summary: dict[str, Any],
    scores: pa.Table,
    worst: list[dict[str, Any]],
    labels: tuple[str, ...],
    judged: pa.Table | None,
    passwords: Passwords,
) -> dict[str, Any]:
    return write_report(report, summary, scores, worst, labels, judged, passwords)


def _outcomes(shards: list[ShardScores]) -> dict[str, list[Any]]:
    merged: dict[str, list[Any]] = {}
    for shard in shards:
        for test_id, outcomes in shard.bench.items():
            merged.setdefault(test_id, []).extend(outcomes)
    return merged


def _run_scoring(
    plans: dict[str, OutputPlan],
    settings: dict[str, ScoringSettings],
    truth: Truth,
    config: EvalConfig,
) -> dict[str, list[ShardScores]]:
    """Scoring tasks over bounded groups of shards (of every output at once; see
    :func:`~ops.evaluation.plan.task_groups`), at most ``workers`` in flight, each with its
    shards' share of the truth, with a progress bar over shards and pages. Shards the plan could
    not read are failures without a task."""
    limit = config.workers or max(1, int(cluster_cpus()))
    done: dict[str, list[ShardScores]] = {label: [] for label in plans}
    jobs: list[tuple[list[ShardPlan], ScoringSettings]] = []
    for label, plan in plans.items():
        for shard in plan.shards:
            if shard.failure:
                failures = {shard.path: shard.failure}
                done[label].append(ShardScores(shard.path, label, failures=failures))
        readable = [shard for shard in plan.shards if not shard.failure]
        jobs += [(group, settings[label]) for group in task_groups(readable, limit)]
    bar = _progress(sum(len(plan.shards) for plan in plans.values()), "scoring", config.progress)
    bar(0, sum(len(found) for found in done.values()))
    pending = list(reversed(jobs))
    in_flight: dict[Any, tuple[list[ShardPlan], ScoringSettings]] = {}
    while pending or in_flight:
        while pending and len(in_flight) < limit:
            group, job_settings = pending.pop()
            shards = [(shard.path, shard.skip, shard.rows) for shard in group]
            documents = (document for shard in group for document in shard.documents)
            task = _score_shards_task.remote(shards, _truth_for(truth, documents), job_settings)
            in_flight[task] = (group, job_settings)
        ready, _ = ray.wait(list(in_flight), num_returns=1)
        group, job_settings = in_flight.pop(ready[0])
        try:
            found = ray.get(ready[0])
        except ray.exceptions.RayError as exc:  # a worker died, or scoring itself broke
            reason = str(exc).strip().splitlines()[-1][:500]
            found = ShardScores(
                group[0].path,
                job_settings.label,
                shards=len(group),
                failures={shard.path: f"scoring failed: {reason}" for shard in group},
            )
        done[job_settings.label].append(found)
        _pool(done[job_settings.label][0], found, job_settings)
        bar(found.rows, found.shards)
    bar(None)
    return {label: sorted(found, key=lambda s: s.shard) for label, found in done.items()}


def _pool(keeper: ShardScores, found: ShardScores, settings: ScoringSettings) -> None:
    """Keep the texts of an output's worst pages and judge candidates for its top ones only,
    held by its first result, as results arrive: each task returns its own top ones (up to 50
    judge candidates of up to 40,000 characters), and an output of thousands of tasks would
    otherwise pile them all up on the driver."""
    if keeper is found:
        return
    keeper.worst = worst_pages([keeper.worst, found.worst], settings.worst)
    keeper.judge_candidates = judge_sample(
        keeper.judge_candidates + found.judge_candidates, settings.judge_pages
    )
    found.worst, found.judge_candidates = [], []


def _truth_for(truth: Truth, documents: Iterable[Document]) -> Truth:
    """The part of the truth these ``(source_uri, doc_id)`` documents can match."""
    documents = set(documents)
    if isinstance(truth, TruthIndex):
        return truth.subset(documents)
    if isinstance(truth, BenchTruth):
        return truth.subset(uri for uri, _ in documents)
    return truth  # the text layer: read from each PDF by its task


def _score_documents(
    results: dict[str, list[ShardScores]],
    truth: Truth,
    config: EvalConfig,
    labels: tuple[str, ...],
) -> dict[str, DocumentScores]:
    """Whole-document truth over multi-page documents: pages gathered from every shard, split by
    document into a few tasks."""
    documents: dict[str, DocumentScores] = {}
    for label in labels:
        parts = pa.concat_tables(
            [DOC_PART_SCHEMA.empty_table()] + [scores.doc_parts for scores in results[label]]
        )
        if not parts.num_rows or not isinstance(truth, TruthIndex):
            documents[label] = DocumentScores()
            continue
        settings = ScoringSettings(
            label=label,
            normalization=config.normalization,
            casefold=config.casefold,
            worst=WORST_PAGES,
        )
        buckets = _split_by_document(parts, DOCUMENT_TASKS)
        subsets = [_truth_for(truth, _documents(bucket)) for bucket in buckets]
        outcomes = ray.get(
            [
                _score_documents_task.remote(bucket, subset, settings)
                for bucket, subset in zip(buckets, subsets, strict=True)
            ]
        )
        documents[label] = DocumentScores(
            pa.concat_tables([table for table, _, _ in outcomes]),
            sum(incomplete for _, incomplete, _ in outcomes),
            [entry for _, _, worst in outcomes for entry in worst],
        )
    return documents


def _documents(parts: pa.Table) -> Iterable[Document]:
    return zip(parts["source_uri"].to_pylist(), parts["doc_id"].to_pylist(), strict=True)


def _split_by_document(parts: pa.Table, count: int) -> list[pa.Table]:
    uris = parts.column("source_uri").to_pylist()
    buckets: dict[int, list[int]] = {}
    for index, uri in enumerate(uris):
        bucket = int.from_bytes(hashlib.blake2b(uri.encode(), digest_size=4).digest()) % count
        buckets.setdefault(bucket, []).append(index)
    return [parts.take(pa.array(rows)) for _, rows in sorted(buckets.items())]


def _progress(total: int, description: str, enabled: bool) -> Callable[..., None]:
    """A tqdm bar over shards that also shows the rows read (pages, and a row per document that
    failed as a whole); ``bar(rows, shards)`` advances it, ``bar(None)`` closes it."""
    if not enabled:
        return lambda *_: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=description, unit="shard", file=sys.stderr, dynamic_ncols=True)
    read = 0

    def update(rows: int | None, shards: int = 1) -> None:
        nonlocal read
        if rows is None:
            bar.close()
            return
        read += rows
        bar.set_postfix_str(f"{read:,} rows", refresh=False)
        bar.update(shards)

    return update
