"""Real Ray clusters on loopback for the tests: ``ray start --head`` with the dashboard's job
server, and optionally a second ``ray start`` worker node, on free non-default ports and their
own temp dir, beside the test session's own local Ray. Stopped by process group (never
``ray stop``, which would stop every cluster on the machine)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import free_ports, stop_group

BIN = Path(sys.executable).parent
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


@contextmanager
def loopback_cluster(
    temp: Path, env: dict[str, str], head_cpus: int = 1, worker_cpus: int | None = 2
) -> Iterator[LoopbackCluster]:
    """A head (and a worker node with ``worker_cpus``, unless None) started with ``env``; the
    jobs' ``python`` is the first on that env's PATH."""
    gcs, dashboard, agent, client, worker_agent, *workers = free_ports(9)
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
            f"--num-cpus={head_cpus}",
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
        if worker_cpus is not None:
            worker = ray_start(
                [
                    f"--address=127.0.0.1:{gcs}",
                    f"--num-cpus={worker_cpus}",
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
    """Until ``url`` answers (a 401 of a head with token authentication counts: it is up)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"ray start exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
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
