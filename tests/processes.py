"""Servers and clusters the tests start as child processes: free loopback ports, and stopping
exactly what a test started (its process group, by pid; never by name)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from typing import Any

RESULT_MARK = "RESULT "


def free_ports(count: int = 1) -> list[int]:
    """Ports free on 127.0.0.1 now (held together while chosen, so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def stop_group(process: subprocess.Popen, timeout_s: float = 30.0) -> None:
    """SIGTERM the process group a test started with ``start_new_session=True``, then SIGKILL
    what is left after ``timeout_s``."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_scenario(code: str, *args: str, timeout_s: float) -> Any:
    """Run ``code`` in a fresh Python (one that can start its own Ray or ``Cluster`` beside the
    test session's) and return what it printed as ``RESULT <json>`` last; fail with its stderr
    if it exited non-zero or printed none."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    return json.loads(lines[-1].removeprefix(RESULT_MARK))
