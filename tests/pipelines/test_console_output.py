"""What a user's console shows: one progress line (not Ray's operator bars and log lines), no
Ray noise, ``--quiet`` and ``--json`` for scripts, and one line for an internal error."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
import ray

from pipelines.console import RAY_NOISE, quiet_ray_data
from pipelines.progress import (
    ProgressReporter,
    Snapshot,
    count,
    count_routes,
    final_counts,
    report_batch_size,
    route_totals,
    stage_times,
    start_counters,
    timed,
)

PROGRESS_LINE = re.compile(r"^pagemill: [\d,]+/[\d,]+\+? pages( \(\d+%\))?, [\d.]+ pages/s")


def _cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console script as installed (stdout and stderr are pipes: not a terminal)."""
    return subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import entry; entry()", *argv],
        env={**os.environ, "RAY_AUTH_MODE": "disabled", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_a_run_prints_progress_lines_and_no_ray_noise(samples, tmp_path):
    done = _cli(
        "run", str(samples / "docs"), str(tmp_path / "out"), "--json",
        env={"PAGEMILL_PROGRESS_SECONDS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    # Before: Ray Data's execution plan, 17 operator lines per update, the core worker's ERROR.
    assert lines and all(PROGRESS_LINE.match(line) for line in lines), done.stderr[-3000:]
    assert lines[-1].startswith("pagemill: 28/28 pages (100%)") and "1 failed" in lines[-1]
    summary = json.loads(done.stdout)
    assert summary["pages"] == 27 and summary["document_errors"] == 1
    assert summary["manifest"].endswith(f"{summary['run_id']}.json")

    quiet = _cli("run", str(samples / "docs" / "mixed.pdf"), str(tmp_path / "q"), "--quiet")
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert quiet.stderr == "" and "pagemill run " in quiet.stdout


def test_an_internal_error_is_one_line_and_a_log_file(tmp_path):
    # A bug of ours, stood in for by a status command that divides by zero.
    script = "import sys, pipelines.cli as cli; cli._status = lambda args: 1 / 0; cli.entry()"
    done = subprocess.run(
        [sys.executable, "-c", script, "status", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    first, second = done.stderr.strip().splitlines()
    assert first == "pagemill: internal error: ZeroDivisionError: division by zero"
    log = second.split("the full traceback is in ", 1)[1].split(" ", 1)[0]
    with open(log, encoding="utf-8") as text:
        assert "Traceback (most recent call last)" in text.read()


def test_a_damaged_manifest_is_named(tmp_path, capsys):
    from pipelines.cli import main

    (tmp_path / "_runs").mkdir()
    (tmp_path / "_runs" / "x.json").write_text("{not json")
    assert main(["status", str(tmp_path)]) == 2
    assert "x.json is not a readable pagemill manifest" in capsys.readouterr().err


def test_native_writes_to_stderr_lose_only_the_ray_noise(tmp_path):
    # What Ray's C++ core worker does (os.write to descriptor 2) next to Python's own writes.
    script = textwrap.dedent(
        f"""
        import os, sys
        from pipelines.console import filtered_stderr
        with filtered_stderr():
            os.write(2, b"native before\\n")
            os.write(2, b"[E core_worker.cc] Actor {RAY_NOISE[0]}. See ...\\n")
            print("python line", file=sys.stderr)
            os.write(2, b"native after, no newline")
        print("restored", file=sys.stderr)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "core_worker" not in done.stderr
    for kept in ("native before", "python line", "native after, no newline", "restored"):
        assert kept in done.stderr


def test_ray_data_console_keeps_only_warnings_that_say_something():
    import ray.data  # noqa: F401 - configures the ray.data logger and its console handler

    logger = logging.getLogger("ray.data.test")
    console = next(
        handler
        for handler in logging.getLogger("ray.data").handlers
        if isinstance(handler, logging.StreamHandler)
        and not isinstance(handler, logging.FileHandler)
    )
    stream = io.StringIO()
    saved, console.stream = console.stream, stream
    try:
        with quiet_ray_data():
            logger.info("Execution plan of Dataset ...")
            logger.warning("Progress bars disabled. To enable, ...")
            logger.warning("Operator X is slow")
        logger.info("after: shown again")
    finally:
        console.stream = saved
    shown = stream.getvalue()
    assert "Operator X is slow" in shown and "after: shown again" in shown
    assert "Execution plan" not in shown and "Progress bars" not in shown


def test_the_progress_line_says_done_total_rate_eta_and_failures():
    planning = Snapshot(documents=3, planned=40, done=4, failed=0, documents_total=8, seconds=2)
    assert planning.line() == "pagemill: 4/40+ pages, 2.0 pages/s, planning 3/8 documents"
    running = Snapshot(
        documents=8, planned=3400, done=1204, failed=3, documents_total=8, seconds=100
    )
    assert running.line() == (
        "pagemill: 1,204/3,400 pages (35%), 12.0 pages/s, ETA 3m 02s, 3 failed"
    )
    long = Snapshot(documents=1, planned=10**6, done=10, failed=0, documents_total=1, seconds=10)
    assert "ETA 277h 46m" in long.line()


def test_the_progress_line_shows_pages_by_route_and_the_engines_batch_sizes():
    counts = {"documents": 8, "planned": 3400, "done": 1204, "failed": 3}
    counts |= {"pages:text/ok": 1100, "pages:ocr/ok": 100, "pages:ocr/error": 2}
    counts |= {"pages:unrouted/error": 1, "batch:node-a:11": 16, "batch:node-b:12": 4}
    counts |= {"wall_s:ocr": 12.5}  # stage times are no route
    assert route_totals(counts) == (("text", 1100), ("ocr", 102), ("unrouted", 1))
    running = Snapshot(
        documents=8,
        planned=3400,
        done=1204,
        failed=3,
        documents_total=8,
        seconds=100,
        routes=route_totals(counts),
        batch_sizes=(4, 16),
    )
    assert running.line() == (
        "pagemill: 1,204/3,400 pages (35%), 12.0 pages/s, ETA 3m 02s, text 1,100, ocr 102, "
        "unrouted 1, 3 failed, batch 4-16"
    )
    one_engine = replace(running, routes=(), batch_sizes=(8,))
    assert one_engine.line().endswith("3 failed, batch 8")


@pytest.mark.usefixtures("ray_cluster")
def test_stages_count_into_the_counter_and_the_driver_prints_it():
    name = "pagemill-progress-test"
    counter = start_counters(name, "test-run")

    @ray.remote(num_cpus=0)
    def stage(pages: int) -> None:
        count(name, documents=1, planned=pages)
        with timed(name, "pages"):
            sum(range(3_000_000))  # CPU work the stage's time must show
        statuses = ["ok"] * (pages - 1) + ["error"]
        count_routes(name, ["ocr"] * pages, statuses, done=pages, failed=1)
        report_batch_size(name, f"actor-{pages}", pages)

    stream = io.StringIO()
    with ProgressReporter(counter, documents_total=2, stream=stream, every_s=0.05):
        ray.get([stage.remote(3), stage.remote(5)])
    last = stream.getvalue().splitlines()[-1]
    assert last.startswith("pagemill: 8/8 pages (100%), ")
    assert last.endswith(", ocr 8, 2 failed, batch 3-5"), last
    counts = final_counts(counter, documents_total=2)
    assert counts["pages:ocr/ok"] == 6 and counts["pages:ocr/error"] == 2
    times = stage_times(final_counts(counter, documents_total=2))["pages"]
    assert 0 < times["cpu_s"] <= times["wall_s"] * 1.5
    count(None, done=1)  # no counter: nothing happens
    count("pagemill-progress-gone", done=1)  # a counter that is gone: nothing happens either
    ray.kill(counter)
