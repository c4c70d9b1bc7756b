"""Crashes, hangs and dead engines on a real local Ray cluster, driven by the fake engine's
injected faults: every page comes out exactly once, the culprit as an error row, and an engine
that cannot work fails the job loudly instead of cycling forever."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from pipelines import RunConfig, run
from pipelines.cli import EXIT_FAILED, main

pytestmark = pytest.mark.usefixtures("ray_cluster")


def rows(output: Path) -> list[dict]:
    return pads.dataset(output / "pages", format="parquet").to_table().to_pylist()


def faulty(samples: Path, output: Path, **options) -> RunConfig:
    settings = {"page_timeout": 3.0, "route": "ocr", "orientation": "off", "progress": False}
    faults = {key: value for key, value in options.items() if key not in RunConfig.__annotations__}
    settings.update({key: value for key, value in options.items() if key not in faults})
    return RunConfig(
        input=str(samples / "docs" / "mixed.pdf"),
        output=str(output),
        backend="fake",
        backend_options=faults,
        **settings,
    )


def by_page(output: Path) -> dict[int, dict]:
    found = rows(output)
    assert Counter(row["page_index"] for row in found) == {0: 1, 1: 1, 2: 1}  # once each
    return {row["page_number"]: row for row in found}


def manifest(output: Path, run_id: str) -> dict:
    return json.loads((output / "_runs" / f"{run_id}.json").read_text())


def test_an_engine_exception_is_an_error_row(tmp_path, samples):
    run(faulty(samples, tmp_path, raise_on="2"))
    pages = by_page(tmp_path)
    assert pages[2]["error_type"] == "ocr_failed"
    assert "injected failure on page 2" in pages[2]["error_message"]
    assert pages[1]["status"] == pages[3]["status"] == "ok"


def test_a_segfaulting_page_kills_only_its_worker_and_becomes_an_error_row(tmp_path, samples):
    result = run(faulty(samples, tmp_path, crash_on="mixed:2"))
    pages = by_page(tmp_path)
    assert pages[2]["error_type"] == "worker_crashed", pages[2]
    assert "crashed its worker process 2 time(s)" in pages[2]["error_message"]
    assert pages[1]["status"] == pages[3]["status"] == "ok"
    assert manifest(tmp_path, result.run_id)["worker_deaths"] >= 2


def test_a_page_that_never_returns_hits_the_hard_deadline(tmp_path, samples):
    result = run(faulty(samples, tmp_path, hang_on="2", page_timeout=1.0))
    pages = by_page(tmp_path)
    assert pages[2]["error_type"] == "timeout", pages[2]
    assert "--page-timeout" in pages[2]["error_message"]
    assert pages[1]["status"] == pages[3]["status"] == "ok"
    assert result.summary.by_error_type == {"timeout": 1}


def test_a_fallback_engine_that_never_returns_hits_the_same_deadline(tmp_path, samples):
    """Page 2's model answer is unusable, so the fallback engine reads it, and hangs: the page
    deadline covers the fallback call too, so the page ends as a timeout row."""
    config = faulty(samples, tmp_path, degenerate_on="2", page_timeout=1.0)
    config = replace(config, fallback="fake", fallback_options={"hang_on": "2"})
    result = run(config)
    pages = by_page(tmp_path)
    assert pages[2]["error_type"] == "timeout", pages[2]
    assert pages[1]["status"] == pages[3]["status"] == "ok"
    assert not pages[1]["is_fallback"]
    assert result.summary.by_error_type == {"timeout": 1}


def test_the_deadline_holds_when_native_code_keeps_the_gil(tmp_path, samples):
    # No Python thread can run: only the faulthandler backstop (a C thread) can end this page.
    run(faulty(samples, tmp_path, hang_on="3", hang_holds_gil="true", page_timeout=0.5))
    pages = by_page(tmp_path)
    assert pages[3]["error_type"] == "timeout", pages[3]
    assert pages[1]["status"] == pages[2]["status"] == "ok"


def test_a_render_overrunning_its_deadline_becomes_a_timeout_row(tmp_path, samples):
    # A deadline no page can meet: every render is killed, then recorded; the job ends. Every
    # page is rendered (20 ms or more each): a text-layer page read in 1 ms could finish before
    # the watchdog thread gets the GIL, and a block that ends first keeps its result.
    config = faulty(samples, tmp_path, page_timeout=0.001, route="ocr", max_attempts=1)
    result = run(config)
    pages = by_page(tmp_path)
    assert {row["error_type"] for row in pages.values()} == {"timeout"}
    assert {row["error_stage"] for row in pages.values()} == {"render"}
    assert result.summary.by_error_type == {"timeout": 3}


def test_an_engine_that_keeps_dying_fails_the_job_loudly(tmp_path, samples):
    config = replace(faulty(samples, tmp_path, crash_on="*"), input=str(samples / "docs"))
    with pytest.raises(Exception, match=r"is dead: \d+ ocr worker processes in a row died"):
        run(config)


def test_an_engine_that_cannot_load_exits_nonzero_with_the_cause(tmp_path, samples, capsys):
    argv = ["run", str(samples / "docs" / "mixed.pdf"), str(tmp_path), "--no-progress"]
    argv += ["--backend", "fake", "--backend-option", "crash_on_load=true", "--route", "ocr"]
    assert main(argv) == EXIT_FAILED
    error = capsys.readouterr().err
    assert "pagemill: error: the job failed: " in error
    assert re.search(r"the OCR engine is dead: \d+ ocr worker processes in a row died", error)
    (manifest,) = (json.loads(path.read_text()) for path in (tmp_path / "_runs").glob("*.json"))
    assert manifest["state"] == "failed" and "in a row died" in manifest["cause"]
