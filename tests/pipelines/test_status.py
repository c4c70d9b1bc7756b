"""``pagemill status``: done, failed and pending pages, the worst errors, and what to run next."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from pipelines import RunConfig, run
from pipelines.cli import EXIT_USAGE, main

pytestmark = pytest.mark.usefixtures("ray_cluster")


def test_status_counts_pending_pages_and_offers_the_retry_command(tmp_path, samples, capsys):
    output = tmp_path / "out"
    config = RunConfig(
        input=str(samples / "docs"),
        output=str(output),
        backend="fake",
        backend_options={"raise_on": "mixed:2"},
        orientation="off",
        progress=False,
        rows_per_file=5,
    )
    result = run(config)
    # Lose the shard holding tracemonkey's first pages, as a killed run would have.
    lost = next(
        shard
        for shard in sorted((output / "pages").glob("*.parquet"))
        if "tracemonkey" in str(pads.dataset(shard).to_table(columns=["source_uri"]).to_pylist())
    )
    lost_pages = pads.dataset(lost).count_rows()
    lost.unlink()
    assert result.summary.pages == 27

    assert main(["status", str(output), "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["pages_failed"] == 1 and status["document_errors"] == 1
    # The lost rows are pending: pages of documents that still have rows, or whole documents
    # that have none left ("not started").
    kept_rows = pads.dataset(output / "pages").count_rows()
    assert status["pages_ok"] + status["pages_failed"] + 1 == kept_rows
    assert status["pages_pending"] <= lost_pages
    assert status["pages_pending"] > 0 or status["documents_not_started"] > 0
    assert [run["run_id"] for run in status["runs"]] == [result.run_id]
    assert {e["error_type"] for e in status["errors"]} == {"ocr_failed", "corrupt_pdf"}
    assert "injected failure on page 2" in next(
        e["message"] for e in status["errors"] if e["error_type"] == "ocr_failed"
    )
    assert any(
        cmd.startswith("pagemill run ") and "--retry-failed" in cmd
        for cmd in status["next_commands"]
    )

    assert main(["status", str(output)]) == 0
    table = capsys.readouterr().out
    assert "pages failed" in table and "--backend fake" in table and "--retry-failed" in table
    assert "--backend-option raise_on=mixed:2" in table  # the run's own options come back


def test_status_of_a_folder_that_is_not_an_output(tmp_path, capsys):
    assert main(["status", str(tmp_path / "nothing")]) == EXIT_USAGE
    assert "holds no pagemill output" in capsys.readouterr().err


def test_status_after_a_complete_resume_says_nothing_is_left(tmp_path, samples, capsys):
    output = tmp_path / "out"
    config = RunConfig(
        input=str(samples / "docs" / "mixed.pdf"),
        output=str(output),
        backend="fake",
        progress=False,
    )
    run(config)
    run(config)
    assert main(["status", str(output)]) == 0
    text = capsys.readouterr().out
    assert "nothing left to do" in text
    assert Path(output, "_runs").is_dir() and text.count("finished") == 2
    # What each run cost, and both together; priced when asked (no run was given prices).
    assert "core-h / 1M pages" in text and "all runs" in text and "price" not in text
    assert main(["status", str(output), "--price-per-core-hour", "0.05", "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    first, second = (run["cost"] for run in status["runs"])
    assert first["pages"] > 0 and second["pages"] == 0  # the resume found nothing to read
    total = status["cost"]
    assert total["cpu_core_hours"] == first["cpu_core_hours"] and total["pages"] == first["pages"]
    price = round(total["core_hours_per_million_pages"] * 0.05, 2)
    assert total["price_per_million_pages"] == price and total["prices"]["core_hour"] == 0.05
    with pytest.raises(SystemExit) as stopped:  # argparse's usage error
        main(["status", str(output), "--price-per-gpu-hour", "-1"])
    assert stopped.value.code == EXIT_USAGE


def test_a_run_left_running_is_told_from_a_live_one(tmp_path):
    """A manifest still says ``running`` after a SIGKILL: only the lock's fresh heartbeat makes
    it a live run."""
    from pipelines import outputs
    from pipelines.lock import OutputLock
    from pipelines.status import collect

    output = str(tmp_path / "out")
    outputs.prepare(output, overwrite=False)
    for run_id in ("dead-run", "live-run"):
        outputs.write_manifest(output, run_id, {"run_id": run_id, "state": "running"})
    with OutputLock(output, "live-run"):
        states = {run["run_id"]: run["state"] for run in collect(output).runs}
    assert states["dead-run"] == "died (no end recorded)"
    assert states["live-run"].startswith("running (pid ")
    states = {run["run_id"]: run["state"] for run in collect(output).runs}
    assert states["live-run"] == "died (no end recorded)"  # its lock is gone
