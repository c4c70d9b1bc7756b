"""``pagemill export``: markdown, JSONL and Dolma from an output, in order, with error pages
marked, idempotent, and with flat memory on a large output. Outputs are written directly as
`pagemill run` leaves them (no Ray needed to read them back)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ops.exports import markdown_names, markdown_pages
from ops.schema import PAGE_SCHEMA, to_table
from pipelines.cli import EXIT_USAGE, main

EARLY, LATE = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 2, tzinfo=UTC)


def row(uri, number, text, count, status="ok", at=LATE, **extra):
    return {
        "doc_id": f"sha-{Path(uri).name}",
        "source_uri": uri,
        "source_kind": "pdf",
        "page_index": None if number is None else number - 1,
        "page_number": number,
        "page_count": count,
        "route": "ocr",
        "backend": "tesseract",
        "text": text,
        "status": status,
        "error_type": None if status == "ok" else "ocr_failed",
        "error_message": None if status == "ok" else "the engine gave up\ntraceback ...",
        "processed_at": at,
        **extra,
    }


REPORT = {1: "Annual report\nfirst page", 2: "Second page: ünïcode ✓", 3: "Third page"}


def make_output(root: Path) -> Path:
    """Pages out of order across shards, an error page, a page whose error row a later retry
    superseded (not yet reconciled), a document that never opened, two sources that share a
    file name."""
    pages = root / "pages"
    pages.mkdir(parents=True)
    first = [
        row("/data/a/report.pdf", 3, REPORT[3], 3, input_tokens=30, output_tokens=10),
        row("/data/a/report.pdf", 1, REPORT[1], 3, input_tokens=10, output_tokens=5),
        row("/data/b/report.pdf", 2, None, 2, status="error"),
        row("/data/b/report.pdf", 1, "b's first page", 2, is_fallback=True),
    ]
    second = [
        row("/data/a/report.pdf", 2, None, 3, status="error", at=EARLY),  # superseded
        row("/data/a/report.pdf", 2, REPORT[2], 3),
        {**row("/data/a/broken.pdf", None, None, None, status="error"), "route": None},
    ]
    pq.write_table(to_table(first, PAGE_SCHEMA), pages / "part-1.parquet")
    pq.write_table(to_table(second, PAGE_SCHEMA), pages / "part-2.parquet")
    return root


@pytest.fixture
def output(tmp_path):
    return make_output(tmp_path / "out")


def test_markdown_per_document_in_page_order_with_errors_marked(output, tmp_path, capsys):
    dest = tmp_path / "export"
    assert main(["export", str(output), str(dest)]) == 0
    assert "exported 3 documents (5 pages, 2 error rows)" in capsys.readouterr().out
    files = sorted(path.relative_to(dest / "markdown") for path in dest.rglob("*.md"))
    assert [str(path) for path in files] == ["a/broken.md", "a/report.md", "b/report.md"]
    report = (dest / "markdown" / "a" / "report.md").read_text()
    assert markdown_pages(report) == REPORT  # round trip: the same text per page, in order
    other = (dest / "markdown" / "b" / "report.md").read_text()
    assert "**Page 2 could not be read**: ocr_failed (the engine gave up)" in other
    assert markdown_pages(other)[1] == "b's first page"
    broken = (dest / "markdown" / "a" / "broken.md").read_text()
    assert "**The document could not be read**: ocr_failed" in broken


def test_jsonl_one_line_per_page_with_chosen_columns(output, tmp_path):
    dest = tmp_path / "export"
    argv = ["export", str(output), str(dest), "--format", "jsonl"]
    assert main([*argv, "--columns", "source_uri,page_number,text,processed_at"]) == 0
    (shard,) = (dest / "jsonl").iterdir()
    lines = [json.loads(line) for line in shard.read_text().splitlines()]
    assert [(line["source_uri"], line["page_number"]) for line in lines] == [
        ("/data/a/broken.pdf", None),
        ("/data/a/report.pdf", 1),
        ("/data/a/report.pdf", 2),
        ("/data/a/report.pdf", 3),
        ("/data/b/report.pdf", 1),
        ("/data/b/report.pdf", 2),
    ]
    assert set(lines[0]) == {"source_uri", "page_number", "text", "processed_at"}
    assert lines[2]["text"] == REPORT[2] and lines[2]["processed_at"].startswith("2026-05-02")


def test_a_dolma_line_field_by_field(output, tmp_path, capsys):
    dest = tmp_path / "export"
    assert main(["export", str(output), str(dest), "--format", "dolma"]) == 0
    assert "1 documents without a readable page left out" in capsys.readouterr().out
    (shard,) = (dest / "dolma" / "documents").iterdir()
    assert shard.name == "pagemill-00000.jsonl.gz"
    with gzip.open(shard, "rt", encoding="utf-8") as lines:
        documents = [json.loads(line) for line in lines]
    assert [document["metadata"]["Source-File"] for document in documents] == [
        "/data/a/report.pdf",
        "/data/b/report.pdf",
    ]
    report = documents[0]
    assert set(report) == {"id", "text", "source", "added", "created", "metadata", "attributes"}
    assert report["id"] == "sha-report.pdf" and report["source"] == "pagemill"
    assert report["text"] == "\n".join(REPORT.values())  # pages joined by a newline, as olmOCR
    assert report["created"] == "2026-05-02"
    assert report["added"] == datetime.now(UTC).date().isoformat()
    spans = report["attributes"]["pdf_page_numbers"]
    assert [page for _, _, page in spans] == [1, 2, 3]
    assert [report["text"][start:end] for start, end, _ in spans] == list(REPORT.values())
    metadata = report["metadata"]
    assert metadata["pdf-total-pages"] == 3 and metadata["total-input-tokens"] == 40
    assert metadata["total-output-tokens"] == 15 and metadata["error-pages"] == []
    other = documents[1]
    assert (
        other["metadata"]["error-pages"] == [2] and other["metadata"]["total-fallback-pages"] == 1
    )
    assert other["attributes"]["pdf_page_numbers"] == [[0, len("b's first page"), 1]]


def test_a_rerun_rewrites_the_same_files_and_removes_what_it_no_longer_writes(output, tmp_path):
    dest = tmp_path / "export"
    argv = ["export", str(output), str(dest), "--format", "markdown,jsonl,dolma"]
    assert main(argv) == 0
    before = {path: path.read_bytes() for path in dest.rglob("*") if path.is_file()}
    (dest / "notes.txt").write_text("the user's own file")
    assert main(argv) == 0
    after = {path: path.read_bytes() for path in dest.rglob("*") if path.is_file()}
    ours = {path: data for path, data in after.items() if path.name != "notes.txt"}
    assert ours.keys() == before.keys()
    assert all(ours[path] == before[path] for path in ours if path.name != "_export.json")
    assert main([*argv, "--where", "status = 'ok' AND source_uri LIKE '%/a/%'"]) == 0
    assert sorted(p.name for p in (dest / "markdown").rglob("*.md")) == ["report.md"]
    manifest = json.loads((dest / "_export.json").read_text())
    assert manifest["stale_files_removed"] == 2 and manifest["documents"] == 1
    assert (dest / "notes.txt").exists()  # not the export's: left alone


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "pdf"], "--format takes markdown, jsonl, dolma"),
        (["--columns", "text,colour"], "no column colour"),
        (["--page-marker=---"], "must contain {page}"),
        (["--where", "1); COPY pages TO 'x.csv'; SELECT (1"], "SELECT statements only"),
        (["--where", "no_such_column = 1"], "no_such_column"),
        (["--shard-mb", "0"], "--shard-mb"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(output, tmp_path, capsys, extra, message):
    dest = tmp_path / "export"
    try:
        code = main(["export", str(output), str(dest), *extra])
    except SystemExit as exc:  # argparse's own checks
        code = exc.code
    assert code == EXIT_USAGE
    assert message in capsys.readouterr().err and not dest.exists()


def test_markdown_names_mirror_the_sources_and_settle_collisions():
    names = markdown_names(
        ["/d/x/scan.pdf", "/d/x/scan.tif", "/d/y/report.pdf", "s3://b/in/z/notes.pdf?region=eu"]
    )
    assert (
        names["/d/x/scan.pdf"] == "d/x/scan.pdf.md" and names["/d/x/scan.tif"] == "d/x/scan.tif.md"
    )
    assert names["/d/y/report.pdf"] == "d/y/report.md"
    assert names["s3://b/in/z/notes.pdf?region=eu"] == "b/in/z/notes.md"  # bucket/key
    assert markdown_names(["/in/a.pdf", "/in/sub/b.pdf"]) == {
        "/in/a.pdf": "a.md",
        "/in/sub/b.pdf": "sub/b.md",
    }


@pytest.mark.slow
def test_a_large_output_exports_in_flat_memory(tmp_path):
    # 100,000 pages of ~1 KB (100 MB of text) in 20 shards, every document spread over all of
    # them, pages out of order; a budget of 128 MB, so the rows go through several buckets.
    pages = tmp_path / "out" / "pages"
    pages.mkdir(parents=True)
    body = "lorem ipsum dolor sit amet " * 38
    for shard in range(20):
        rows = [
            row(f"/in/doc{doc:05d}.pdf", page, f"{doc} {page} {body}", 100)
            for doc in range(1000)
            for page in range(100 - shard, 0, -20)
        ]
        pq.write_table(to_table(rows, PAGE_SCHEMA), pages / f"part-{shard}.parquet")
    script = textwrap.dedent(
        f"""
        import json, re, time
        from pipelines.export import ExportConfig, export
        began = time.perf_counter()
        result = export(ExportConfig(output={str(tmp_path / "out")!r}, dest={str(tmp_path / "x")!r},
                                     formats=("markdown", "dolma"), memory_mb=128))
        seconds = time.perf_counter() - began
        # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork and exec, so the child of
        # a big pytest process reported the parent's size (1.6 GB in the full suite).
        status = open("/proc/self/status").read()
        peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) // 1024
        print(json.dumps({{"pages": result.pages, "seconds": seconds, "peak_mb": peak}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"export of 100,000 pages: {measured}")
    assert measured["pages"] == 100_000
    assert measured["peak_mb"] < 600, measured  # the text alone is 100 MB, its markdown 100 MB
    markdown = (tmp_path / "x" / "markdown" / "doc00042.md").read_text()
    assert list(markdown_pages(markdown)) == list(range(1, 101))


def test_a_markdown_export_gives_a_pages_tables_as_tables():
    from ops.exports import markdown_document

    table = "| Country | Capital |\n|---|---|\n| Austria | Vienna |"
    pages = [
        row("/data/t.pdf", 1, "Country Capital\nAustria Vienna", 2, markdown=table),
        row("/data/t.pdf", 2, "Plain prose.", 2),
    ]
    assert markdown_pages(markdown_document(pages)) == {1: table, 2: "Plain prose."}
