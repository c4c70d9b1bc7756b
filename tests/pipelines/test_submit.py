"""``pagemill submit`` against a real Ray cluster on loopback: a ``ray start --head`` with the
dashboard's job server and a second ``ray start`` worker node, both started (and stopped, by
pid) by this module, on non-default ports and their own temp dir, beside the test session's
local Ray."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from pipelines.cli import EXIT_OK, main
from tests.loopback import BIN, LoopbackCluster, loopback_cluster

pytest.importorskip("ray.dashboard", reason="needs ray[default]: pip install 'pagemill[cluster]'")

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[LoopbackCluster]:
    # Token authentication is Ray 2.60's default for new clusters; these tests run without it
    # (tests/pipelines/test_token_auth.py runs with it). The job's `python` is this one.
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PATH": f"{BIN}:{os.environ['PATH']}"}
    with loopback_cluster(Path(tmp_path_factory.mktemp("ray")), env) as started:
        yield started


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
    assert "--dpi: expected a whole number" in capsys.readouterr().err
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


def test_a_token_at_hand_does_no_harm_against_a_head_without_auth(cluster, tmp_path):
    # pagemill turns token mode on when it finds a token; this head has authentication off.
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_AUTH")}
    env.update(RAY_AUTH_TOKEN="some-token", PATH=f"{BIN}:{os.environ['PATH']}")
    argv = [str(BIN / "python"), "-m", "pipelines.cli", "submit", "--address", cluster.address]
    argv += ["--no-wait", str(tmp_path / "in.pdf"), str(tmp_path / "out")]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == EXIT_OK, done.stderr[-3000:]
