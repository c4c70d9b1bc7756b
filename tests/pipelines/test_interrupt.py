"""Ctrl-C (SIGINT to the terminal's process group) and SIGTERM end a run cleanly: exit 130, no
traceback, the resume command printed, the manifest recording ``interrupted``; the same command
then finishes the job exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pyarrow.dataset as pads
import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("signum", "after_s"),
    [(signal.SIGINT, 4.0), (signal.SIGTERM, 4.0), (signal.SIGTERM, 0.0)],
    # 4 s: Ray is up and pages are in the engine, or (on a slow machine) Ray is still
    # starting; 0 s: before or while Ray starts. Pages take 3 s each: the run cannot end first.
    ids=["ctrl-c", "sigterm", "sigterm-while-ray-starts"],
)
def test_an_interrupted_run_says_how_to_resume_and_records_it(samples, tmp_path, signum, after_s):
    output = tmp_path / "out"
    argv = [sys.executable, "-m", "pipelines.cli", "run", str(samples / "docs" / "mixed.pdf")]
    argv += [str(samples / "docs" / "scanned-letter.pdf"), str(output), "--backend", "fake"]
    argv += ["--route", "ocr", "--backend-option", "delay_ms=3000", "--no-progress"]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    job = subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list((output / "_runs").glob("*.json")) or not (output / "pages").is_dir():
        assert job.poll() is None and time.monotonic() < deadline, job.communicate()[1][-3000:]
        time.sleep(0.2)
    time.sleep(after_s)
    if signum == signal.SIGINT:
        os.killpg(job.pid, signum)  # what a terminal does on Ctrl-C
    else:
        job.send_signal(signum)  # what a scheduler or `kill` does
    _, err = job.communicate(timeout=120)
    assert job.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "pagemill: interrupted" in err
    resume = err.split("resume with:", 1)[1].strip().splitlines()[0]
    assert resume.startswith("pagemill run ") and "--backend-option delay_ms=3000" in resume
    (manifest,) = (json.loads(path.read_text()) for path in (output / "_runs").glob("*.json"))
    assert manifest["state"] == "interrupted" and manifest["finished_at"]

    rerun = subprocess.run(
        [*argv[:-3], "--backend-option", "delay_ms=0", "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    table = pads.dataset(output / "pages", format="parquet").to_table()
    keys = Counter(
        zip(
            table.column("source_uri").to_pylist(),
            table.column("page_index").to_pylist(),
            strict=True,
        )
    )
    assert len(keys) == 5 and set(keys.values()) == {1}


@pytest.mark.parametrize("cli_handler", [True, False], ids=["cli", "library"])
def test_a_signal_while_ray_starts_interrupts_right_after_it_not_inside(cli_handler):
    """What ``ray.init`` does meanwhile (spawning processes, whose after-fork hooks swallowed an
    exception raised in them; installing its own SIGTERM handler) runs to its end; then the
    interruption comes. The CLI's handler is put back; without one, Ray's stays."""
    from pipelines.runtime import _interrupts_held_while_ray_starts

    def ray_like_handler(signum, frame):
        raise SystemExit(signum)

    def cli_like_handler(signum, frame):
        raise KeyboardInterrupt("cli")

    before, set_handler = signal.getsignal(signal.SIGTERM), signal.signal
    # Nobody's handler (the test session's own Ray has put one in place: set the default).
    signal.signal(signal.SIGTERM, cli_like_handler if cli_handler else signal.SIG_DFL)
    reached_the_end = False
    try:
        with (
            pytest.raises(KeyboardInterrupt, match="SIGTERM"),
            _interrupts_held_while_ray_starts(),
        ):
            signal.signal(signal.SIGTERM, ray_like_handler)  # what ray.init does
            os.kill(os.getpid(), signal.SIGTERM)
            subprocess.run([sys.executable, "-c", "pass"], check=True)  # a fork meanwhile
            reached_the_end = True
        assert reached_the_end
        expected = cli_like_handler if cli_handler else ray_like_handler
        assert signal.getsignal(signal.SIGTERM) is expected
        assert signal.signal is set_handler  # the module is as it was
    finally:
        signal.signal(signal.SIGTERM, before)
