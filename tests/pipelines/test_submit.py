"""``pagemill submit`` against a real Ray cluster on loopback: a ``ray start --head`` with the
dashboard's job server and a second ``ray start`` worker node, both started (and stopped, by
pid) by this module, on non-default ports and their own temp dir, beside the test session's
local Ray."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from pipelines.cli import EXIT_OK, main
from tests.processes import free_ports, stop_group

pytest.importorskip("ray.dashboard", reason="needs ray[default]: pip install 'pagemill[cluster]'")

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 90
# `ray start --block` waits for its node's processes after SIGTERM; nothing of a test cluster
# needs a clean shutdown, and the wait cost 30 s per test session.
STOP_TIMEOUT_S = 5.0


@dataclass
class LoopbackCluster:
    address: str  # the job server
    gcs: str
    processes: list[subprocess.Popen]


def ray_start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """``ray start --block``: the command stays in the foreground and takes the node's
    processes down with it when it is terminated, so the test stops exactly what it started."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(BIN / "ray"), "start", "--block", "--node-ip-address=127.0.0.1", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[LoopbackCluster]:
    temp = Path(tmp_path_factory.mktemp("ray"))
    gcs, dashboard, agent, client, worker_agent, *workers = free_ports(9)
    # Token authentication is Ray 2.60's default for new clusters; these tests run without it
    # (pagemill's support for it is its own piece of work). The job's `python` is this one.
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PATH": f"{BIN}:{os.environ['PATH']}"}
    common = ["--object-store-memory=100000000"]
    head = ray_start(
        [
            "--head",
            f"--port={gcs}",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard}",
            f"--dashboard-agent-listen-port={agent}",
            f"--ray-client-server-port={client}",
            "--num-cpus=1",
            f"--temp-dir={temp}",
            f"--min-worker-port={workers[0]}",
            f"--max-worker-port={workers[0] + 60}",
            *common,
        ],
        temp / "head.log",
        env,
    )
    processes = [head]
    address = f"http://127.0.0.1:{dashboard}"
    try:
        wait_for(f"{address}/api/version", head, temp / "head.log")
        worker = ray_start(
            [
                f"--address=127.0.0.1:{gcs}",
                "--num-cpus=2",
                f"--dashboard-agent-listen-port={worker_agent}",
                f"--min-worker-port={workers[1]}",
                f"--max-worker-port={workers[1] + 60}",
                *common,
            ],
            temp / "worker.log",
            env,
        )
        processes.append(worker)
        wait_for_nodes(f"127.0.0.1:{gcs}", 2, env)
        yield LoopbackCluster(address, f"127.0.0.1:{gcs}", processes)
    finally:
        for process in reversed(processes):
            stop_group(process, timeout_s=STOP_TIMEOUT_S)


def wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"ray start exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {READY_TIMEOUT_S} s")


def wait_for_nodes(gcs: str, count: int, env: dict[str, str]) -> None:
    """Until the cluster lists ``count`` live nodes (asked from a separate process: this one
    may hold the test session's own Ray)."""
    probe = (
        "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
        "print(sum(node['Alive'] for node in ray.nodes()))"
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        done = subprocess.run(
            [sys.executable, "-c", probe, gcs], capture_output=True, text=True, env=env
        )
        if done.returncode == 0 and int(done.stdout.strip().splitlines()[-1]) >= count:
            return
        time.sleep(1)
    pytest.fail(f"the cluster at {gcs} never listed {count} nodes")


@pytest.fixture(scope="module")
def job_env(tmp_path_factory) -> Path:
    """The job's runtime environment: the nodes already have pagemill's dependencies (they run
    from this environment), so no pip step, which would need the network."""
    path = Path(tmp_path_factory.mktemp("env")) / "runtime_env.yaml"
    path.write_text('env_vars:\n  OMP_THREAD_LIMIT: "1"\n  RAY_AUTH_MODE: disabled\n')
    return path


def test_submit_runs_the_conversion_on_the_cluster(cluster, job_env, samples, tmp_path, capsys):
    output = tmp_path / "out"
    began = time.monotonic()
    argv = ["submit", "--address", cluster.address, "--runtime-env", str(job_env)]
    argv += [str(samples / "docs"), str(output), "--no-progress"]
    code = main(argv)
    seconds = time.monotonic() - began
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.out + captured.err
    # The job's log came back: the run's summary, printed by the driver on the cluster.
    assert "pages/s" in captured.out and "succeeded" in captured.err
    rows = pads.dataset(output / "pages", format="parquet").to_table().to_pylist()
    pages = Counter((row["source_uri"], row["page_index"]) for row in rows)
    assert pages and set(pages.values()) == {1}  # exactly one row per page
    nodes = Counter(row["node"] for row in rows)
    assert len(nodes) == 2, nodes  # the head's CPU and the worker's both did pages
    print(f"submit to the end: {seconds:.1f} s; rows per node: {dict(nodes)}")


def test_a_job_that_fails_on_the_cluster_is_reported_with_its_message(
    cluster, job_env, tmp_path, capsys
):
    argv = ["submit", "--address", cluster.address, "--runtime-env", str(job_env)]
    argv += [str(tmp_path / "nothing-here"), str(tmp_path / "out")]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2  # pagemill run's own usage error, the job's exit code
    assert "failed (exit code 2)" in err


def test_bad_run_options_never_reach_the_cluster(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["submit", "--address", "http://127.0.0.1:9", "in", "out", "--dpi", "lots"])
    assert stopped.value.code == 2
    assert "--dpi: invalid int value" in capsys.readouterr().err
    assert main(["submit", "--address", "http://127.0.0.1:9", "in", "out", "--address", "x"]) == 2
    assert "put it before INPUT" in capsys.readouterr().err


def test_no_wait_prints_the_job_id(cluster, job_env, samples, tmp_path, capsys):
    argv = ["submit", "--address", cluster.address, "--runtime-env", str(job_env), "--no-wait"]
    argv += ["--submission-id", "pagemill-no-wait-test"]
    argv += [str(samples / "docs" / "mixed.pdf"), str(tmp_path / "out"), "--backend", "fake"]
    assert main(argv) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.out.strip() == "pagemill-no-wait-test"
    assert "ray job logs pagemill-no-wait-test" in captured.err
    from ray.job_submission import JobStatus, JobSubmissionClient

    client = JobSubmissionClient(cluster.address)
    deadline = time.monotonic() + 120
    while not client.get_job_status("pagemill-no-wait-test").is_terminal():
        assert time.monotonic() < deadline, "the job never ended"
        time.sleep(1)
    assert client.get_job_status("pagemill-no-wait-test") == JobStatus.SUCCEEDED


def documented_ray_job_submit() -> list[str]:
    """The ``ray job submit`` command of cluster/README.md, as a user would paste it."""
    readme = (PROJECT / "cluster" / "README.md").read_text(encoding="utf-8")
    section = readme.split("## `ray job submit`", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "cluster/README.md lost its ray job submit example"
    return shlex.split(block.group(1).replace("\\\n", " "))


def test_the_documented_ray_job_submit_line_works(cluster, job_env, samples, tmp_path):
    """The README's own line, with this cluster's address, local paths for the bucket URIs, and
    the test runtime environment for its pip list (the nodes run from this environment already;
    that the list covers what pagemill imports is checked in tests/test_runtime_env.py)."""
    argv = documented_ray_job_submit()
    assert argv[:3] == ["ray", "job", "submit"] and "--" in argv
    assert argv[argv.index("--working-dir") + 1] == "."
    source, output = str(samples / "docs" / "born-digital-report.pdf"), str(tmp_path / "out")
    swaps = {
        "http://HEAD:8265": cluster.address,
        "cluster/runtime_env.yaml": str(job_env),
        "s3://my-bucket/pdfs/": source,
        "s3://my-bucket/pagemill-out/": output,
    }
    assert set(swaps) <= set(argv), argv
    command = [str(BIN / "ray"), *[swaps.get(arg, arg) for arg in argv[1:]]]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PATH": f"{BIN}:{os.environ['PATH']}"}
    done = subprocess.run(
        command, cwd=PROJECT, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "succeeded" in done.stdout + done.stderr and "pages/s" in done.stdout
    rows = pads.dataset(Path(output) / "pages", format="parquet").to_table().to_pylist()
    assert sorted(row["page_index"] for row in rows) == [0, 1, 2]
