"""SIGKILL the whole job at several points, rerun the same command, and check that every page of
every readable document has exactly one ``ok`` row and the unreadable one exactly one error row:
no duplicates, no gaps. The killed job is a separate driver process attached to the session's Ray
cluster, as ``ray job submit`` would run it; the rerun is the same command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from pipelines import RunConfig, run
from tests.conftest import PAGES_PER_DOCUMENT

pytestmark = pytest.mark.usefixtures("ray_cluster")

UNREADABLE = "broken-truncated.pdf"
OPTIONS = ["--backend", "fake", "--orientation", "off", "--rows-per-file", "3"]
SLOW_OCR = ["--route", "ocr", "--backend-option", "delay_ms=120"]


def shards(output: Path) -> list[str]:
    folder = output / "pages"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def when_manifest_written(output: Path) -> bool:
    return (output / "_runs").exists() and any((output / "_runs").glob("*.json"))


def when_page_tasks_wrote(output: Path) -> bool:
    names = shards(output)
    return any("-pages-" in name for name in names) and not any("-ocr-" in n for n in names)


def when_ocr_shards_appear(output: Path) -> bool:
    return any("-ocr-" in name and name.endswith(".parquet") for name in shards(output))


def start_job(samples: Path, output: Path) -> subprocess.Popen:
    import ray

    address = ray.get_runtime_context().gcs_address
    argv = [sys.executable, "-m", "pipelines.cli", "run", str(samples / "docs"), str(output)]
    argv += [*OPTIONS, *SLOW_OCR, "--address", address, "--no-progress"]
    return subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def kill_when(job: subprocess.Popen, output: Path, ready: Callable[[Path], bool]) -> list[str]:
    deadline = time.monotonic() + 120
    while not ready(output):
        assert job.poll() is None, "the job finished before the kill point"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.005)
    seen = shards(output)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    time.sleep(2)  # Ray reaps the dead driver's workers
    return seen


def assert_exactly_once(output: Path) -> None:
    rows = pads.dataset(output / "pages", format="parquet").to_table().to_pylist()
    keys = Counter((Path(row["source_uri"]).name, row["page_index"]) for row in rows)
    duplicates = {key: n for key, n in keys.items() if n > 1}
    assert not duplicates, duplicates
    expected = {(name, i) for name, count in PAGES_PER_DOCUMENT.items() for i in range(count)}
    expected.add((UNREADABLE, None))
    assert set(keys) == expected, (expected - set(keys), set(keys) - expected)
    for row in rows:
        wanted = "error" if Path(row["source_uri"]).name == UNREADABLE else "ok"
        assert row["status"] == wanted, row


@pytest.mark.parametrize(
    "kill_point",
    [when_manifest_written, when_page_tasks_wrote, when_ocr_shards_appear],
    ids=["during-reading", "mid-ocr", "mid-write"],
)
def test_sigkill_then_rerun_gives_every_page_exactly_once(tmp_path, samples, kill_point):
    output = tmp_path / "out"
    seen = kill_when(start_job(samples, output), output, kill_point)
    assert kill_point(output) or seen  # the kill happened where intended
    config = RunConfig(
        input=str(samples / "docs"),
        output=str(output),
        backend="fake",
        orientation="off",
        route="ocr",
        rows_per_file=3,
        progress=False,
    )
    rerun = run(config)
    assert_exactly_once(output)
    done_before = rerun.summary.pages_skipped
    assert rerun.summary.pages + rerun.summary.document_errors + done_before >= 27
    again = run(config)  # and a third run finds nothing to do
    assert again.summary.pages == 0 and again.summary.pages_skipped == 27
    assert_exactly_once(output)


def test_a_writer_killed_mid_shard_leaves_nothing_a_reader_sees(tmp_path):
    # A real SIGKILL halfway through writing a shard's bytes.
    code = f"""
import os, signal
import pyarrow.parquet as pq
from ops import shards
from ops.schema import PAGE_SCHEMA, to_table
def half_then_die(table, stream, **kwargs):
    stream.write(b"PAR1" + b"x" * 4096)
    os.kill(os.getpid(), signal.SIGKILL)
pq.write_table = half_then_die
rows = [{{"source_uri": "a.pdf", "doc_id": "d", "page_index": 0, "status": "ok"}}]
shards.write_shard(to_table(rows, PAGE_SCHEMA), {str(tmp_path)!r}, "run-ocr-abc")
"""
    child = subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert [path.name for path in tmp_path.iterdir()] == [".run-ocr-abc.parquet.tmp"]
    from ops import ledger
    from ops.reconcile import reconcile

    assert ledger.load(str(tmp_path)) == {}  # invisible to readers
    assert reconcile(str(tmp_path)).temporaries_removed == 1
    assert list(tmp_path.iterdir()) == []
