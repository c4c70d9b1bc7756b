"""The evaluation task graph on the session's local Ray cluster: shards scored in parallel, a shard
that cannot be read reported, truth missing from the output counted, whole-document truth joined
across shards, two outputs compared page by page, and the report's three files written."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ops.backends.base import MissingDependency
from ops.schema import PAGE_SCHEMA, to_table
from pipelines.cli import EXIT_USAGE, main
from pipelines.eval_config import default_labels
from pipelines.evaluation import EvalConfig, evaluate

pytestmark = pytest.mark.usefixtures("ray_cluster")
WRITTEN, EARLIER = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)

TRUTH = {
    "alpha/0001.txt": "The quick brown fox jumps over the lazy dog.",
    "alpha/0002.txt": "Pack my box with five dozen liquor jugs.",
    "beta.gt.txt": "Sphinx of black quartz, judge my vow.\n\nHow vexingly quick daft zebras jump!",
    "gamma/0001.txt": "A page that no output row ever reaches.",
}


def only(by_label: dict) -> object:
    """The one output's entry (keyed by its folder name)."""
    (value,) = by_label.values()
    return value


def page(uri, number, text, count, status="ok", backend="tesseract"):
    return {
        "doc_id": f"sha-{uri}",
        "source_uri": uri,
        "source_kind": "pdf",
        "page_index": number - 1,
        "page_number": number,
        "page_count": count,
        "route": "ocr",
        "backend": backend,
        "text": text,
        "status": status,
        "error_type": None if status == "ok" else "ocr_failed",
        "processed_at": WRITTEN,
    }


def make_output(root: Path, texts: dict[tuple[str, int], str], broken: bool = False) -> Path:
    """An output folder as `pagemill run` leaves it, written directly: two shards that split
    beta's pages, and optionally one shard that is not Parquet at all."""
    pages = root / "pages"
    pages.mkdir(parents=True)
    first = [
        page("/in/alpha.pdf", 1, texts[("alpha", 1)], 2),
        page("/in/alpha.pdf", 2, texts[("alpha", 2)], 2),
        page("/in/beta.pdf", 1, texts[("beta", 1)], 2),
        page("/in/extra.pdf", 1, "no truth for this one", 1),
    ]
    second = [page("/in/beta.pdf", 2, texts[("beta", 2)], 2)]
    pq.write_table(to_table(first, PAGE_SCHEMA), pages / "part-1.parquet")
    pq.write_table(to_table(second, PAGE_SCHEMA), pages / "part-2.parquet")
    (pages / ".part-3.parquet.tmp").write_bytes(b"a writer was killed here")  # never read
    (pages / "_metadata.parquet").write_bytes(b"")  # skipped, like pyarrow datasets skip it
    if broken:
        (pages / "part-9.parquet").write_bytes(b"PAR1 truncated by a full disk")
    return root


@pytest.fixture
def truth(tmp_path: Path) -> Path:
    root = tmp_path / "truth"
    for name, text in TRUTH.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


PERFECT = {
    ("alpha", 1): "The quick brown fox jumps over the lazy dog.",
    ("alpha", 2): "Pack my box with five dozen liquor jugs.",
    ("beta", 1): "Sphinx of black quartz, judge my vow.",
    ("beta", 2): "How vexingly quick daft zebras jump!",
}


def test_scores_coverage_and_report_files(tmp_path, truth):
    texts = dict(PERFECT)
    texts[("alpha", 1)] = "The quick brown fax jumps over the lazy dog."  # 1 edit in 44
    output = make_output(tmp_path / "out", texts, broken=True)
    result = evaluate(EvalConfig(outputs=(str(output),), truth=str(truth), progress=False))

    summary = json.loads((output / "_eval" / "summary.json").read_text())
    assert summary == result.summary
    coverage = only(summary["coverage"])
    assert coverage["shards"] == 3 and coverage["rows"] == 5
    (unreadable,) = coverage["unreadable_shards"]
    assert unreadable["shard"].endswith("part-9.parquet") and "cannot read" in unreadable["reason"]
    assert coverage["scored_pages"] == 2 and coverage["scored_documents"] == 1  # beta, whole
    assert coverage["no_truth"] == 1 and coverage["truth_missing_from_output"] == 1  # gamma
    (overall,) = summary["overall"]
    assert overall["pages"] == 3
    assert overall["char_edits"] == 1
    assert overall["cer"] == pytest.approx(1 / (44 + 40 + 74))  # beta: n1 joins with one space

    pages = pq.read_table(output / "_eval" / "pages.parquet").to_pylist()
    assert sorted((p["truth_key"], p["page_number"]) for p in pages) == [
        ("alpha", 1),
        ("alpha", 2),
        ("beta", None),
    ]
    html = (output / "_eval" / "index.html").read_text()
    assert "part-9.parquet" in html  # the unreadable shard, with its reason
    assert "/in/alpha.pdf" in html and "lazy dog" in html  # the worst page, beside its truth


def test_compare_two_outputs_page_by_page(tmp_path, truth, capsys):
    worse = {**PERFECT, ("alpha", 2): "Pack my bax with five dozen liquor jugs."}
    better = make_output(tmp_path / "a", PERFECT)
    make_output(tmp_path / "b", worse)
    report = tmp_path / "cmp"
    argv = ["eval", "--compare", str(better), str(tmp_path / "b"), "--truth", str(truth)]
    assert main([*argv, "--report", str(report), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "a better on 1" in printed and "report:" in printed  # labelled by folder name
    compared = json.loads((report / "summary.json").read_text())["compare"]
    assert compared["labels"] == ["a", "b"]
    assert compared["pages"] == 3  # alpha 1, alpha 2, beta whole
    assert (compared["a_better"], compared["b_better"], compared["ties"]) == (1, 0, 2)
    assert compared["cer_a"] == 0.0 and compared["cer_b"] > 0


def test_a_sample_scores_the_same_pages_of_both_outputs(tmp_path, truth):
    output = make_output(tmp_path / "out", PERFECT)
    config = EvalConfig(outputs=(str(output),), truth=str(truth), sample=0.5, progress=False)
    coverage = only(evaluate(config).summary["coverage"])
    assert coverage["sampled_out"] + coverage["scored_pages"] + coverage["no_truth"] <= 5
    assert coverage["truth_missing_from_output"] is None  # unknowable under a sample


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--group-by", "colour"], "cannot group by colour"),
        (["--truth-format", "table"], "no such file or folder"),
    ],
)
def test_usage_errors_exit_2_with_a_reason(tmp_path, truth, capsys, extra, message):
    output = make_output(tmp_path / "out", PERFECT)
    truth_arg = str(tmp_path / "nope.jsonl") if "table" in extra else str(truth)
    argv = ["eval", str(output), "--truth", truth_arg, "--no-progress", *extra]
    assert main(argv) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_an_output_that_is_not_one_is_a_usage_error(tmp_path, truth, capsys):
    assert main(["eval", str(tmp_path), "--truth", str(truth)]) == EXIT_USAGE
    assert "holds no pagemill output" in capsys.readouterr().err


def test_olmocr_bench_tests_run_on_the_output(tmp_path):
    output = make_output(tmp_path / "out", PERFECT)
    bench = tmp_path / "bench"
    bench.mkdir()
    tests = {
        "prose": [
            {"pdf": "alpha.pdf", "page": 1, "id": "p1", "type": "present", "text": "brown fox"},
            {"pdf": "alpha.pdf", "page": 1, "id": "p2", "type": "absent", "text": "purple"},
            {"pdf": "alpha.pdf", "page": 2, "id": "p3", "type": "present", "text": "six dozen"},
        ],
        "reading_order": [
            {
                "pdf": "beta.pdf",
                "page": 2,
                "id": "o1",
                "type": "order",
                "before": "vexingly",
                "after": "zebras",
            },
            {
                "pdf": "gone.pdf",
                "page": 1,
                "id": "o2",
                "type": "order",
                "before": "a",
                "after": "b",
            },
        ],
    }
    for category, lines in tests.items():
        (bench / f"{category}.jsonl").write_text("\n".join(json.dumps(t) for t in lines))
    result = evaluate(EvalConfig(outputs=(str(output),), truth=str(bench), progress=False))
    scored = only(result.summary["bench"])
    rates = {c["name"]: (c["passed"], c["total"]) for c in scored["categories"]}
    # "six dozen" is not on page 2; gone.pdf is not in the output; the implicit baseline tests
    # (one per PDF) pass on real text and fail on the missing PDF.
    assert rates == {"prose": (2, 3), "reading_order": (1, 2), "baseline": (2, 3)}
    assert scored["overall"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)
    assert scored["ci_low"] <= scored["overall"] <= scored["ci_high"]
    assert scored["missing_pages"] == 2
    assert result.summary["truth"]["format"] == "olmocr-bench"

    # Under a sample, tests of pages left out are not run, and so do not count as failures.
    config = EvalConfig(outputs=(str(output),), truth=str(bench), sample=0.5, progress=False)
    sampled = only(evaluate(config).summary["bench"])
    assert sampled["tests"] < scored["tests"]
    assert sampled["missing_pages"] <= 2


def test_an_llm_judge_grades_a_sample_of_pages(tmp_path, truth, capsys):
    from tests.openai_server import ChatServer, Reply

    output = make_output(tmp_path / "out", PERFECT)
    with ChatServer() as server:
        server.reply = lambda request, count: Reply(text='{"score": 4, "reason": "close"}')
        argv = ["eval", str(output), "--truth", str(truth), "--no-progress"]
        argv += ["--judge-model", "judge-1", "--judge-url", server.url, "--judge-pages", "100"]
        assert main(argv) == 0
    judged = pq.read_table(output / "_eval" / "judge.parquet").to_pylist()
    # Every page with truth is drawn at this size; the sources are not on disk here, so the
    # judge grades against the truth alone.
    assert sorted(row["source_uri"] for row in judged) == ["/in/alpha.pdf", "/in/alpha.pdf"]
    assert {row["raw_score"] for row in judged} == {4}
    assert {row["graded_against"] for row in judged} == {"truth"}
    summary = only(json.loads((output / "_eval" / "summary.json").read_text())["judge"])
    assert summary["valid"] == 2 and summary["mean_score"] == pytest.approx(0.75)
    assert "judge judge-1 on out: 2/2 pages graded" in capsys.readouterr().out


def test_an_output_given_as_a_uri_is_listed_and_read_through_its_filesystem(tmp_path, truth):
    # file:// goes through the same pyarrow filesystem code as s3:// and gs:// (which cannot
    # run here): shard paths must keep their scheme on the way to the scoring tasks.
    output = make_output(tmp_path / "out", PERFECT)
    config = EvalConfig(
        outputs=(output.as_uri(),),
        truth=str(truth),
        report=str(tmp_path / "report"),
        sample=100,
        progress=False,
    )
    summary = evaluate(config).summary
    assert only(summary["coverage"])["shards"] == 2
    assert only(summary["coverage"])["scored_pages"] == 2
    assert summary["overall"][0]["cer"] == 0.0


def test_rows_a_run_superseded_are_skipped_not_scored_twice(tmp_path, truth, capsys):
    # A run that retried alpha's page 1 (error, then ok) and wrote page 2 twice (a Ray retry),
    # and has not reconciled yet: each page is scored once, from the row that will stay.
    output = make_output(tmp_path / "out", PERFECT)
    pages = output / "pages"
    stale = [
        {**page("/in/alpha.pdf", 1, None, 2, status="error"), "processed_at": EARLIER},
        {**page("/in/alpha.pdf", 2, "Pack my box", 2), "processed_at": EARLIER},
    ]
    pq.write_table(to_table(stale, PAGE_SCHEMA), pages / "part-0.parquet")
    argv = ["eval", str(output), "--truth", str(truth), "--no-progress"]
    assert main(argv) == 0
    summary = json.loads((output / "_eval" / "summary.json").read_text())
    coverage = only(summary["coverage"])
    assert coverage["superseded_rows"] == 2 and coverage["error_rows"] == 0
    assert sum(coverage["superseded_reasons"].values()) == 2
    assert coverage["scored_pages"] == 2 and summary["overall"][0]["cer"] == 0.0
    assert "2 superseded rows skipped" in capsys.readouterr().out


def test_the_judge_grades_the_pages_asked_for_even_when_truth_is_sparse(tmp_path):
    from tests.openai_server import ChatServer, Reply

    # 300 rows, truth for 6 of them: a fraction of all rows would judge none.
    pages = tmp_path / "out" / "pages"
    pages.mkdir(parents=True)
    rows = [page(f"/in/doc{i}.pdf", 1, f"text {i}", 1) for i in range(300)]
    pq.write_table(to_table(rows, PAGE_SCHEMA), pages / "part-1.parquet")
    truth = tmp_path / "truth"
    truth.mkdir()
    for i in range(0, 300, 50):
        (truth / f"doc{i}.txt").write_text(f"text {i}")
    with ChatServer() as server:
        server.reply = lambda request, count: Reply(text='{"score": 5, "reason": "ok"}')
        config = EvalConfig(
            outputs=(str(tmp_path / "out"),),
            truth=str(truth),
            judge_model="judge-1",
            judge_url=server.url,
            judge_pages=4,
            progress=False,
        )
        summary = evaluate(config).summary
    assert only(summary["judge"])["pages"] == 4


def test_an_output_with_no_scored_page_still_gets_its_line(tmp_path, truth, capsys):
    good = make_output(tmp_path / "a", PERFECT)
    failed = tmp_path / "b" / "pages"
    failed.mkdir(parents=True)
    rows = [page("/in/alpha.pdf", n, None, 2, status="error") for n in (1, 2)]
    pq.write_table(to_table(rows, PAGE_SCHEMA), failed / "part-1.parquet")
    argv = ["eval", "--compare", str(good), str(tmp_path / "b"), "--truth", str(truth)]
    assert main([*argv, "--report", str(tmp_path / "cmp"), "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (line_b,) = [line for line in lines if line.startswith("b ")]
    assert line_b.split()[1:3] == ["0", "—"] and line_b.split()[-2] == "2"  # 2 error rows


def test_a_broken_password_map_is_a_usage_error(tmp_path, truth, capsys):
    output = make_output(tmp_path / "out", PERFECT)
    password_map = tmp_path / "passwords.json"
    password_map.write_text("[1, 2]")
    argv = ["eval", str(output), "--truth", "text-layer", "--password-map", str(password_map)]
    assert main(argv) == EXIT_USAGE
    assert "password map" in capsys.readouterr().err


def test_relative_paths_mean_the_callers_directory_not_the_workers(tmp_path, monkeypatch):
    # The session's Ray workers were started elsewhere: relative truth and report paths must be
    # made absolute before any task sees them.
    make_output(tmp_path / "out", PERFECT)
    (tmp_path / "truth").mkdir()
    (tmp_path / "truth" / "alpha.txt").write_text(
        PERFECT[("alpha", 1)] + " " + PERFECT[("alpha", 2)]
    )
    monkeypatch.chdir(tmp_path)
    result = evaluate(EvalConfig(outputs=("out",), truth="truth", report="rep", progress=False))
    assert only(result.summary["coverage"])["scored_documents"] == 1
    assert only(result.summary["coverage"])["truth_unreadable"] == 0
    assert (tmp_path / "rep" / "index.html").exists()


def test_a_judge_that_cannot_run_is_reported_before_any_scoring(tmp_path, truth, monkeypatch):
    output = make_output(tmp_path / "out", PERFECT)
    config = EvalConfig(
        outputs=(str(output),),
        truth=str(truth),
        judge_model="judge-1",
        judge_concurrency=0,
        progress=False,
    )
    with pytest.raises(ValueError, match="--judge-concurrency must be at least 1"):
        evaluate(config)
    assert not (output / "_eval").exists()
    # Past the flags' checks, the judge itself is built (its extra, its settings) before any
    # scoring task starts: a missing extra is reported at once, not after the scoring.
    monkeypatch.setattr("ops.judges.llm.REQUIRES", ("pagemill_no_such_module",))
    with pytest.raises(MissingDependency, match="pagemill\\[openai\\]"):
        evaluate(replace(config, judge_concurrency=2))
    assert not (output / "_eval").exists()


def test_outputs_are_labelled_by_their_folder_names():
    assert default_labels(("/runs/tesseract",)) == ("tesseract",)
    assert default_labels(("/runs/a/", "s3://bucket/runs/b?region=x")) == ("a", "b")
    assert default_labels(("/2024/out", "/2025/out")) == ("2024/out", "2025/out")
    assert default_labels(("/same/out", "/same/out")) == ("A", "B")


def test_bench_tests_read_a_pages_markdown_where_it_has_one(tmp_path):
    pages = tmp_path / "out" / "pages"
    pages.mkdir(parents=True)
    table_page = page("/in/alpha.pdf", 1, "Name Size\nfox 3\ndog 5", 1)
    table_page["markdown"] = "| Name | Size |\n|---|---|\n| fox | 3 |\n| dog | 5 |"
    pq.write_table(to_table([table_page], PAGE_SCHEMA), pages / "part-1.parquet")
    older = page("/in/beta.pdf", 1, "A shard written before the markdown column.", 1)
    older_shard = to_table([older], PAGE_SCHEMA).drop_columns(["markdown"])
    pq.write_table(older_shard, pages / "part-2.parquet")
    bench = tmp_path / "bench"
    bench.mkdir()
    tests = {
        "table": [
            {"pdf": "alpha.pdf", "page": 1, "id": "t1", "type": "table", "cell": "3",
             "left": "fox", "top_heading": "Size"},
        ],
        "prose": [
            {"pdf": "beta.pdf", "page": 1, "id": "p1", "type": "present",
             "text": "written before the markdown"},
        ],
    }  # fmt: skip
    for category, lines in tests.items():
        (bench / f"{category}.jsonl").write_text("\n".join(json.dumps(t) for t in lines))
    config = EvalConfig(outputs=(str(tmp_path / "out"),), truth=str(bench), progress=False)
    scored = only(evaluate(config).summary["bench"])
    rates = {c["name"]: (c["passed"], c["total"]) for c in scored["categories"]}
    assert rates == {"table": (1, 1), "prose": (1, 1), "baseline": (2, 2)}
