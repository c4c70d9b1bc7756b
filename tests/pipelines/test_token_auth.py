"""Ray 2.60's token authentication, as a user meets it: a token made with ``ray get-auth-token
--generate``, then a plain ``ray start --head`` (no ``RAY_AUTH_MODE``), which turns
authentication on because a token exists. ``pagemill run --address`` and ``pagemill submit``
must work against it without the user knowing about ``RAY_AUTH_MODE``, and without the token
say what to do. Every command runs as its own process with its own ``HOME`` (where Ray keeps the
token), as a user's shell would."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from pipelines import ray_auth
from pipelines.cli import EXIT_FAILED, EXIT_OK
from tests.loopback import BIN, LoopbackCluster, loopback_cluster

pytest.importorskip("ray.dashboard", reason="needs ray[default]: pip install 'pagemill[cluster]'")

pytestmark = pytest.mark.slow


def user_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_AUTH")}
    return {**env, "HOME": str(home), "PATH": f"{BIN}:{os.environ['PATH']}"}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A user's home where ``ray get-auth-token --generate`` wrote the token."""
    home = Path(tmp_path_factory.mktemp("home"))
    made = subprocess.run(
        [str(BIN / "ray"), "get-auth-token", "--generate"],
        env=user_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert (home / ".ray" / "auth_token").read_text().strip()
    return home


@pytest.fixture(scope="module")
def cluster(home, tmp_path_factory) -> Iterator[LoopbackCluster]:
    temp = Path(tmp_path_factory.mktemp("ray"))
    with loopback_cluster(temp, user_env(home), head_cpus=2, worker_cpus=None) as started:
        yield started


def pagemill(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_head_really_requires_the_token(cluster):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{cluster.address}/api/jobs/", timeout=10)
    assert refused.value.code == 401


def test_run_and_submit_with_the_token_on_this_machine(cluster, home, samples, tmp_path):
    document = str(samples / "docs" / "born-digital-report.pdf")
    ran = pagemill(
        user_env(home),
        "run",
        document,
        str(tmp_path / "ran"),
        "--address",
        cluster.gcs,
        "--no-progress",
    )
    assert ran.returncode == EXIT_OK, ran.stderr[-3000:]
    runtime_env = tmp_path / "env.yaml"
    runtime_env.write_text('env_vars:\n  OMP_THREAD_LIMIT: "1"\n')
    submitted = pagemill(
        user_env(home),
        "submit",
        "--address",
        cluster.address,
        "--runtime-env",
        str(runtime_env),
        document,
        str(tmp_path / "job"),
        "--no-progress",
    )
    assert submitted.returncode == EXIT_OK, submitted.stderr[-3000:]
    assert "succeeded" in submitted.stderr
    for output in ("ran", "job"):
        table = pads.dataset(tmp_path / output / "pages", format="parquet").to_table()
        assert sorted(table.column("page_index").to_pylist()) == [0, 1, 2]


def test_the_token_given_in_the_environment_works_from_anywhere(cluster, home, tmp_path):
    # Another machine: no token file, the token passed as RAY_AUTH_TOKEN.
    token = (home / ".ray" / "auth_token").read_text().strip()
    env = {**user_env(tmp_path), "RAY_AUTH_TOKEN": token}
    listed = subprocess.run(
        [str(BIN / "ray"), "job", "list", "--address", cluster.address],
        env={**env, "RAY_AUTH_MODE": "token"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]  # Ray's own client, told the mode
    submitted = pagemill(
        env,
        "submit",
        "--address",
        cluster.address,
        "--no-wait",
        str(tmp_path / "in.pdf"),
        str(tmp_path / "out"),
    )
    assert submitted.returncode == EXIT_OK, submitted.stderr[-3000:]


def test_without_the_token_submit_says_where_to_get_it(cluster, tmp_path):
    submitted = pagemill(
        user_env(tmp_path),
        "submit",
        "--address",
        cluster.address,
        str(tmp_path / "in.pdf"),
        str(tmp_path / "out"),
    )
    assert submitted.returncode == EXIT_FAILED
    assert "it requires a token" in submitted.stderr
    assert "ray get-auth-token" in submitted.stderr and "Traceback" not in submitted.stderr


def test_a_token_at_hand_turns_token_mode_on_unless_the_user_chose(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("abc\n")
    assert ray_auth.prepare_client({"RAY_AUTH_TOKEN_PATH": str(token_file)}) == "token"
    assert ray_auth.prepare_client({"RAY_AUTH_TOKEN": "abc"}) == "token"
    chosen = {"RAY_AUTH_MODE": "disabled", "RAY_AUTH_TOKEN": "abc"}
    assert ray_auth.prepare_client(chosen) == "disabled"
    empty = tmp_path / "empty"
    empty.write_text("")
    assert ray_auth.prepare_client({"RAY_AUTH_TOKEN_PATH": str(empty)}) == "disabled"
