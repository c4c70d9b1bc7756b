"""One run at a time per OUTPUT: the lock, its heartbeat and its takeover when the holder died,
and a second ``pagemill run`` on a busy OUTPUT stopping with the holder's name."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict

import pytest

from pipelines.cli import EXIT_USAGE, main
from pipelines.lock import LOCK_NAME, Holder, OutputBusy, OutputLock


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def plant(output, **fields) -> None:
    holder = {
        "run_id": "other-run",
        "host": socket.gethostname(),
        "pid": -1,
        "started_at": "2026-01-01T00:00:00+00:00",
        "heartbeat_at": time.time(),
        **fields,
    }
    output.mkdir(parents=True, exist_ok=True)
    (output / LOCK_NAME).write_text(json.dumps(holder))


def test_a_second_run_is_refused_while_the_first_holds_the_output(tmp_path):
    with OutputLock(str(tmp_path), "first"):
        with pytest.raises(OutputBusy) as busy:
            OutputLock(str(tmp_path), "second").acquire()
        message = str(busy.value)
        assert "in use by run first on host " + socket.gethostname() in message
        assert "since 20" in message and "last heartbeat 0 s ago" in message
    assert not (tmp_path / LOCK_NAME).exists()  # released
    with OutputLock(str(tmp_path), "second"):
        pass


def test_the_lock_of_a_run_that_died_on_this_host_is_taken_over_at_once(tmp_path):
    plant(tmp_path, pid=dead_pid())
    with OutputLock(str(tmp_path), "mine") as lock:
        assert lock.taken_over is not None and lock.taken_over.run_id == "other-run"
        assert json.loads((tmp_path / LOCK_NAME).read_text())["run_id"] == "mine"


def test_another_hosts_lock_is_stale_only_once_its_heartbeat_is_old(tmp_path):
    plant(tmp_path, host="elsewhere", pid=12345)
    with pytest.raises(OutputBusy, match="on host elsewhere"):
        OutputLock(str(tmp_path), "mine").acquire()
    plant(tmp_path, host="elsewhere", pid=12345, heartbeat_at=time.time() - 91)
    with OutputLock(str(tmp_path), "mine") as lock:
        assert lock.taken_over.host == "elsewhere"


def test_the_heartbeat_keeps_a_long_run_fresh_and_stops_after_a_takeover(tmp_path):
    lock = OutputLock(str(tmp_path), "mine", heartbeat_s=0.05)
    lock.acquire()
    first = lock.read().heartbeat_at
    time.sleep(0.3)
    assert lock.read().heartbeat_at > first
    # Another run decided this one was dead and took over: this one never writes over it.
    thief = Holder("thief", "elsewhere", 1, "now", time.time())
    (tmp_path / LOCK_NAME).write_text(json.dumps(asdict(thief)))
    time.sleep(0.3)
    assert lock.read().run_id == "thief"
    lock.release()
    assert lock.read().run_id == "thief"  # not ours to delete


def test_pagemill_run_on_a_busy_output_stops_with_the_holder(samples, tmp_path, capsys):
    output = tmp_path / "out"
    argv = [sys.executable, "-m", "pipelines.cli", "run", str(samples / "docs"), str(output)]
    argv += ["--backend", "fake", "--route", "ocr", "--backend-option", "delay_ms=500"]
    argv += ["--no-progress", "--num-cpus", "1"]
    first = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while not (output / LOCK_NAME).exists():
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        holder = json.loads((output / LOCK_NAME).read_text())
        code = main(["run", str(samples / "docs"), str(output), "--backend", "fake"])
        err = capsys.readouterr().err
        assert code == EXIT_USAGE
        assert f"in use by run {holder['run_id']} on host {holder['host']}" in err
        assert f"(pid {first.pid})" in err
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the run and the local Ray it started
        first.wait()
