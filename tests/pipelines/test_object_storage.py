"""Inputs and outputs on an S3-compatible object store: moto's standalone server on loopback,
reached through the standard ``AWS_ENDPOINT_URL`` variable (what MinIO, Ceph and R2 users set).

Each command runs as its own process with its own local Ray, started with the store's variables
in its environment, as a user's shell would run it: ``run``, a SIGKILL mid-run and the rerun of
the same command (exactly one row per page), ``status``, ``query`` (offline: no DuckDB extension
download) and ``eval``. The secret key must appear in none of their output or files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyarrow import fs

from ops.exports import markdown_pages
from tests.conftest import PAGES_PER_DOCUMENT
from tests.processes import free_ports, stop_group

pytest.importorskip("moto", reason="needs moto[server] (part of the dev extra)")

pytestmark = pytest.mark.slow

BUCKET = "pagemill-test"
SMALL_INPUT = ("born-digital-report.pdf", "mixed.pdf")
BROKEN = "broken-truncated.pdf"
# Enough forced-OCR pages that a kill lands mid-run, few enough to rerun quickly.
KILL_INPUT = ("mixed.pdf", "scanned-letter.pdf", "tracemonkey.pdf", BROKEN)
SECRET = "never-log-this-secret-9f3a"


@dataclass
class Store:
    env: dict[str, str]
    filesystem: fs.S3FileSystem
    endpoint: str

    def uri(self, key: str) -> str:
        return f"s3://{BUCKET}/{key}"

    def files(self, key: str) -> list[str]:
        selector = fs.FileSelector(f"{BUCKET}/{key}", recursive=True, allow_not_found=True)
        return [info.path for info in self.filesystem.get_file_info(selector) if info.size]

    def read(self, path: str) -> bytes:
        with self.filesystem.open_input_stream(path) as stream:
            return stream.read()


@pytest.fixture(scope="module")
def store(samples, tmp_path_factory) -> Iterator[Store]:
    (port,) = free_ports()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    server_bin = Path(sys.executable).parent / "moto_server"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(server_bin), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "pagemill-test-key",
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "RAY_AUTH_MODE": "disabled",
        }
        filesystem = fs.S3FileSystem(
            access_key="pagemill-test-key",
            secret_key=SECRET,
            endpoint_override=endpoint,
            region="us-east-1",
            allow_bucket_creation=True,
        )
        filesystem.create_dir(BUCKET)
        for path in sorted((samples / "docs").iterdir()):
            with filesystem.open_output_stream(f"{BUCKET}/in/{path.name}") as stream:
                stream.write(path.read_bytes())
        for prefix, names in (("small", SMALL_INPUT), ("kill", KILL_INPUT)):
            for name in names:
                filesystem.copy_file(f"{BUCKET}/in/{name}", f"{BUCKET}/{prefix}/{name}")
        yield Store(env, filesystem, endpoint)
    finally:
        stop_group(server)


def pagemill(
    store: Store, *args: str, timeout: int = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        capture_output=True,
        text=True,
        env=store.env if env is None else env,
        timeout=timeout,
        check=False,
    )


def rows(store: Store, output: str) -> list[dict]:
    sql = "SELECT source_uri, page_index, status, node FROM pages"
    done = pagemill(store, "query", store.uri(output), sql, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_exactly_once(found: list[dict], names: tuple[str, ...] | None = None) -> None:
    """One row per page of the uploaded samples (``names`` only, if given), and the broken
    file's error row when it was among them."""
    keys = Counter((row["source_uri"].rsplit("/", 1)[-1], row["page_index"]) for row in found)
    assert set(keys.values()) == {1}, [key for key, n in keys.items() if n > 1]
    per_document = Counter(name for name, page in keys if page is not None)
    expected = {name: n for name, n in PAGES_PER_DOCUMENT.items() if not names or name in names}
    assert per_document == expected
    if not names or BROKEN in names:
        assert (BROKEN, None) in keys  # the unreadable one: its error row


def test_run_status_query_and_eval_on_s3(store, samples):
    began = time.monotonic()
    done = pagemill(store, "run", store.uri("in"), store.uri("out"), "--no-progress")
    seconds = time.monotonic() - began
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"s3://{BUCKET}/out/_runs/" in done.stdout  # the manifest, as a URI
    found = rows(store, "out")
    assert_exactly_once(found)
    assert all(row["status"] == "ok" for row in found if row["page_index"] is not None)

    status = pagemill(store, "status", store.uri("out"), "--format", "json")
    assert status.returncode == 0, status.stderr
    summary = json.loads(status.stdout)
    assert summary["pages_ok"] == sum(PAGES_PER_DOCUMENT.values()) and summary["pages_pending"] == 0

    evaluated = pagemill(
        store, "eval", store.uri("out"), "--truth", str(samples / "truth"), "--no-progress"
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert f"report: s3://{BUCKET}/out/_eval/index.html" in evaluated.stdout
    report = json.loads(store.read(f"{BUCKET}/out/_eval/summary.json"))
    (coverage,) = report["coverage"].values()
    assert coverage["scored_pages"] == 13 and coverage["unreadable_shards"] == []

    exported = pagemill(
        store, "export", store.uri("out"), store.uri("export"), "--format", "markdown,dolma"
    )
    assert exported.returncode == 0, exported.stderr[-3000:]
    markdown = store.read(f"{BUCKET}/export/markdown/mixed.md").decode()
    assert markdown_pages(markdown).keys() == {1, 2, 3}
    (dolma,) = store.files("export/dolma/documents")
    documents = store.read(dolma).decode().strip().split("\n")  # pyarrow un-gzips .gz reads
    assert len(documents) == len(PAGES_PER_DOCUMENT)  # the broken file has no Dolma record

    # The credentials came from the environment and went nowhere else.
    for text in (done.stdout, done.stderr, status.stdout, evaluated.stdout, evaluated.stderr):
        assert SECRET not in text
    for path in store.files("out/_runs"):
        assert SECRET.encode() not in store.read(path)
    print(f"s3 run: {seconds:.1f} s for {sum(PAGES_PER_DOCUMENT.values())} pages")


def test_a_run_killed_mid_way_resumes_exactly_once(store):
    argv = [sys.executable, "-m", "pipelines.cli", "run", store.uri("kill"), store.uri("killed")]
    argv += ["--backend", "fake", "--route", "ocr", "--orientation", "off", "--no-progress"]
    argv += ["--backend-option", "delay_ms=300", "--rows-per-file", "3"]
    job = subprocess.Popen(
        argv,
        env=store.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while not any("-ocr-" in path for path in store.files("killed/pages")):
        assert job.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline, "no OCR shard was ever written"
        time.sleep(0.1)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    time.sleep(2)
    rerun = pagemill(store, *argv[3:])
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_exactly_once(rows(store, "killed"), KILL_INPUT)


def test_an_endpoint_in_the_uri_instead_of_the_environment(store, samples):
    """What a user does who cannot set AWS_ENDPOINT_URL: every URI derived from the given ones
    (input listing, shards, manifests, the report) keeps ``?endpoint_override=``."""
    env = {key: value for key, value in store.env.items() if key != "AWS_ENDPOINT_URL"}
    options = f"?endpoint_override={store.endpoint.removeprefix('http://')}&scheme=http"
    source, output = store.uri("small") + options, store.uri("by-uri") + options
    done = pagemill(store, "run", source, output, "--no-progress", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"s3://{BUCKET}/by-uri/_runs/" in done.stdout
    rerun = pagemill(store, "run", source, output, "--no-progress", env=env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]

    sql = "SELECT source_uri, page_index, status FROM pages ORDER BY ALL"
    queried = pagemill(store, "query", output, sql, "--format", "json", env=env)
    assert queried.returncode == 0, queried.stderr
    found = json.loads(queried.stdout)
    names = Counter(row["source_uri"].removesuffix(options).rsplit("/", 1)[-1] for row in found)
    assert names == {name: PAGES_PER_DOCUMENT[name] for name in SMALL_INPUT}  # once each
    assert {row["status"] for row in found} == {"ok"}

    status = pagemill(store, "status", output, "--format", "json", env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["pages_pending"] == 0
    evaluated = pagemill(
        store, "eval", output, "--truth", str(samples / "truth"), "--no-progress", env=env
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    report = json.loads(store.read(f"{BUCKET}/by-uri/_eval/summary.json"))
    (coverage,) = report["coverage"].values()
    assert coverage["scored_pages"] == sum(PAGES_PER_DOCUMENT[name] for name in SMALL_INPUT)


def test_credentials_in_a_uri_are_a_usage_error(store):
    leaked = f"s3://pagemill-test-key:{SECRET}@{BUCKET}/in"
    submit = ("submit", "--address", "http://127.0.0.1:1")  # refused before any connection
    for command in (("run",), submit):
        done = pagemill(store, *command, leaked, store.uri("never"))
        assert done.returncode == 2, done.stderr
        assert "carries credentials" in done.stderr and SECRET not in done.stderr + done.stdout
    assert store.files("never") == []


def test_the_output_lock_on_object_storage(store, monkeypatch):
    from pipelines.lock import OutputBusy, OutputLock

    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, store.env[key])
    output = store.uri("locked")
    with OutputLock(output, "first"):
        with pytest.raises(OutputBusy, match="in use by run first"):
            OutputLock(output, "second").acquire()
        assert store.files("locked") == [f"{BUCKET}/locked/_lock.json"]
    assert store.files("locked") == []
    # A holder on another machine whose heartbeat stopped long ago: taken over.
    stale = {"run_id": "dead", "host": "elsewhere", "pid": 7, "started_at": "then"}
    with store.filesystem.open_output_stream(f"{BUCKET}/locked/_lock.json") as stream:
        stream.write(json.dumps({**stale, "heartbeat_at": time.time() - 600}).encode())
    with OutputLock(output, "third") as lock:
        assert lock.taken_over is not None and lock.taken_over.run_id == "dead"
