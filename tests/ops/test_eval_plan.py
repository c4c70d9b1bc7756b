"""The evaluation plan (superseded rows, per-shard truth) and the truth subsets it hands out: a
subset must match every document exactly as the whole truth does, or scores would change with
the way an output happens to be sharded."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ops.evaluation.bench import load_bench_truth
from ops.evaluation.plan import ShardPlan, plan_output, task_groups
from ops.evaluation.scoring import ScoringSettings, score_shards
from ops.evaluation.truth import DOCUMENT, TruthIndex, TruthRef, load_folder
from ops.reconcile import reconcile
from ops.schema import PAGE_SCHEMA, to_table


def row(uri, index, status="ok", doc_id=None, minute=0):
    return {
        "doc_id": doc_id or f"sha-{uri}",
        "source_uri": uri,
        "source_kind": "pdf",
        "page_index": index,
        "page_number": None if index is None else index + 1,
        "page_count": 2,
        "route": "ocr",
        "status": status,
        "text": "t" if status == "ok" else None,
        "processed_at": datetime(2026, 1, 1, 0, minute, tzinfo=UTC),
    }


def write(path: Path, rows: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(to_table(rows, PAGE_SCHEMA), path)
    return str(path)


def test_the_plan_skips_what_reconciliation_would_drop(tmp_path):
    first = write(
        tmp_path / "part-1.parquet",
        [
            row("/in/a.pdf", 0, status="error", minute=1),  # retried below, now ok
            row("/in/a.pdf", 1, minute=1),
            row("/in/b.pdf", None, status="error", minute=1),  # b opened on a later run
            row("/in/c.pdf", 0, doc_id="old", minute=1),  # c changed since
        ],
    )
    second = write(
        tmp_path / "part-2.parquet",
        [
            row("/in/a.pdf", 0, minute=2),
            row("/in/a.pdf", 1, minute=2),  # a Ray retry wrote page 2 twice
            row("/in/b.pdf", 0, minute=2),
            row("/in/c.pdf", 0, doc_id="new", minute=2),
        ],
    )
    broken = tmp_path / "part-3.parquet"
    broken.write_bytes(b"PAR1 not really")
    plan = plan_output([first, second, str(broken)])

    by_path = {shard.path: shard for shard in plan.shards}
    # a's error row, b's document row and c's old version go; of a's two ok page-2 rows the
    # newer stays.
    assert by_path[first].skip == (0, 1, 2, 3)
    assert by_path[second].skip == ()
    assert sum(plan.superseded.values()) == 4
    assert plan.superseded["row for an earlier version of a file that changed"] == 1
    assert plan.rows == 4
    assert by_path[first].documents == ()  # every row of it is skipped: it needs no truth
    assert sorted(by_path[second].documents) == [
        ("/in/a.pdf", "sha-/in/a.pdf"),
        ("/in/b.pdf", "sha-/in/b.pdf"),
        ("/in/c.pdf", "new"),
    ]
    assert "cannot read the shard" in (by_path[str(broken)].failure or "")


def test_a_clean_output_skips_nothing(tmp_path):
    shard = write(tmp_path / "p.parquet", [row("/in/a.pdf", 0), row("/in/a.pdf", 1)])
    plan = plan_output([shard])
    assert plan.shards[0].skip == () and plan.superseded == {} and plan.rows == 2


def test_a_subset_matches_every_document_as_the_whole_truth_does():
    generator = random.Random(7)
    folders = ["", "scans/", "2024/scans/", "other/", "2024/"]
    stems = [f"doc{i}" for i in range(12)]
    truth = TruthIndex("random")
    for _ in range(60):
        name = generator.choice(folders) + generator.choice(stems)
        page = generator.choice([DOCUMENT, 1, 2])
        truth.add(name, None, page, TruthRef(text=name))
    for number in range(5):
        truth.add(None, f"sha{number}", 1, TruthRef(text="by id"))
    documents = [
        (
            f"s3://bucket/{generator.choice(folders)}{generator.choice(stems)}."
            + generator.choice(["pdf", "tif"]),
            generator.choice([None, "sha1", "sha3", "unknown"]),
        )
        for _ in range(400)
    ]
    for start in range(0, len(documents), 37):  # shards of 37 documents
        shard = documents[start : start + 37]
        subset = truth.subset(shard)
        assert len(subset) <= len(truth)
        for uri, doc_id in shard:
            assert subset.match(uri, doc_id) == truth.match(uri, doc_id)


def test_a_bench_subset_resolves_names_against_the_whole_bench(tmp_path):
    tests = [
        {"pdf": "x/report.pdf", "page": 1, "id": "t1", "type": "present", "text": "alpha"},
        {"pdf": "y/report.pdf", "page": 1, "id": "t2", "type": "present", "text": "beta"},
        {"pdf": "solo.pdf", "page": 1, "id": "t3", "type": "present", "text": "gamma"},
    ]
    path = tmp_path / "prose.jsonl"
    path.write_text("\n".join(json.dumps(test) for test in tests))
    bench = load_bench_truth(path)
    # "/in/report.pdf" is ambiguous in the whole bench (two report.pdf): no tests. A subset
    # built with the unambiguous x/report.pdf alone must not resolve it to x's tests.
    uris = ["/in/report.pdf", "/data/x/report.pdf", "/in/solo.pdf"]
    subset = bench.subset(uris)
    for uri in uris:
        assert subset.run(uri, 1, "alpha gamma") == bench.run(uri, 1, "alpha gamma")
    assert subset.run("/in/report.pdf", 1, "alpha") == []
    ran = {test_id for test_id, _ in subset.run("/data/x/report.pdf", 1, "alpha")}
    assert "t1" in ran and "t2" not in ran  # (and x's implicit baseline test)
    assert {key[0] for key in subset.by_page} == {"x/report.pdf", "solo.pdf"}


def test_a_document_truth_shadowed_by_page_truth_is_never_missing(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a.txt").write_text("whole")
    (tmp_path / "a" / "0001.txt").write_text("page one")
    (tmp_path / "b.txt").write_text("whole b")
    truth = load_folder(tmp_path)
    assert sorted(truth.units()) == [("a", 1), ("b", DOCUMENT)]


def test_small_shards_are_grouped_into_bounded_tasks():
    shards = [ShardPlan(f"s{i:04d}", rows=10) for i in range(2000)]
    groups = task_groups(shards, workers=2)
    assert [shard for group in groups for shard in group] == shards  # all, once, in order
    assert all(sum(shard.rows for shard in group) == 1250 for group in groups)  # 20,000 / 16
    big = [ShardPlan("big", rows=50_000), *shards[:3]]
    assert [len(group) for group in task_groups(big, workers=64)] == [1, 3]
    assert task_groups([], workers=4) == []


def test_a_group_of_shards_is_scored_into_one_result(tmp_path):
    good = [
        write(tmp_path / f"part-{n}.parquet", [row(f"/in/d{n}.pdf", 0), row(f"/in/d{n}.pdf", 1)])
        for n in range(3)
    ]
    broken = tmp_path / "part-9.parquet"
    broken.write_bytes(b"not parquet")
    truth = TruthIndex("t")
    for n in range(3):
        truth.add(f"d{n}", None, 1, TruthRef(text="t"))
    shards = [(good[0], (1,), 2), (str(broken), (), 9), (good[1], (), 2), (good[2], (), 2)]
    result = score_shards(shards, truth, ScoringSettings(worst=2))
    assert result.shards == 4 and list(result.failures) == [str(broken)]
    assert result.rows == 5  # d0's second row was skipped
    assert result.scores.num_rows == 3 and result.no_truth == 2
    assert len(result.worst) == 2  # the group's own worst pages, not 2 per shard


def test_a_run_that_reconciles_between_plan_and_scoring_loses_no_row(tmp_path):
    # Planned while superseded rows were still there; the run then reconciled, rewriting two
    # shards shorter and deleting one it emptied. The old skips must not be applied to the
    # rewritten files: at the front they would drop a kept row, at the end point past it.
    pages = tmp_path / "pages"
    stale_first = [
        row("/in/a.pdf", 1),
        row("/in/a.pdf", 0, minute=5),
        row("/in/a.pdf", 1, minute=5),
    ]
    stale_last = [row("/in/b.pdf", 0, minute=5), row("/in/b.pdf", 1, minute=5), row("/in/b.pdf", 1)]
    paths = [
        write(pages / "part-1.parquet", stale_first),
        write(pages / "part-2.parquet", stale_last),
        write(pages / "part-3.parquet", [row("/in/c.pdf", 0, status="error")]),
        write(pages / "part-4.parquet", [row("/in/c.pdf", 0, minute=5)]),
    ]
    plan = plan_output(paths)
    assert [shard.skip for shard in plan.shards] == [(0,), (2,), (0,), ()]
    reconcile(str(pages))
    assert not Path(paths[2]).exists()
    truth = TruthIndex("t")
    for name in ("a", "b"):
        for page in (1, 2):
            truth.add(name, None, page, TruthRef(text="t"))
    truth.add("c", None, 1, TruthRef(text="t"))
    planned = [(shard.path, shard.skip, shard.rows) for shard in plan.shards]
    result = score_shards(planned, truth, ScoringSettings())
    assert result.failures == {}
    scored = sorted((r["truth_key"], r["page_number"]) for r in result.scores.to_pylist())
    assert scored == [("a", 1), ("a", 2), ("b", 1), ("b", 2), ("c", 1)]


def test_a_foreign_parquet_file_is_one_unreadable_shard_not_a_crash(tmp_path):
    good = write(tmp_path / "part-1.parquet", [row("/in/a.pdf", 0)])
    foreign = tmp_path / "part-2.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), foreign)  # Parquet, but not a page shard
    plan = plan_output([good, str(foreign)])
    assert [shard.failure is None for shard in plan.shards] == [True, False]
    assert "no column" in (plan.shards[1].failure or "")
    assert plan_output([]).shards == []
