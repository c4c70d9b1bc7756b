"""The flight log's verdicts, and the watchdog's hard deadline in a real child process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from ops.flight import CRASH, OUT_OF_MEMORY, TIMEOUT, FlightLog, failure_message


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_crash_in_a_batch_makes_suspects_and_a_second_names_the_culprit():
    log = FlightLog(max_attempts=2)
    keys = ["ocr:a#0", "ocr:a#1", "ocr:a#2"]
    log.begin("w1", "ocr", keys)  # w1 dies holding the batch
    verdicts = log.triage("w2", keys)
    assert {key: v.deaths for key, v in verdicts.items()} == dict.fromkeys(keys, 1)
    assert not any(v.failed for v in verdicts.values())
    log.begin("w2", "ocr", ["ocr:a#0"], alone=True)
    log.end("w2")  # page 0 was fine alone
    log.begin("w2", "ocr", ["ocr:a#1"], alone=True)  # w2 dies on page 1
    verdicts = log.triage("w3", keys)
    assert verdicts["ocr:a#1"].failed and verdicts["ocr:a#1"].reason == CRASH
    assert not verdicts["ocr:a#2"].failed
    assert log.deaths_total == 2


def test_a_reported_overrun_is_a_timeout_charged_to_that_page_only():
    log = FlightLog(max_attempts=1)
    log.begin("w1", "render", ["render:a#0", "render:a#1"])
    log.expired("w1", "render:a#1")
    verdicts = log.triage("w2", ["render:a#0", "render:a#1"])
    assert list(verdicts) == ["render:a#1"]
    assert verdicts["render:a#1"].failed and verdicts["render:a#1"].reason == TIMEOUT


def test_an_unreported_death_after_the_backstop_is_a_timeout():
    clock = Clock()
    log = FlightLog(max_attempts=1, clock=clock)
    log.begin("w1", "ocr", ["ocr:a#0"], alone=True, kill_after_s=11.0)
    clock.now = 12.0
    assert log.triage("w2", ["ocr:a#0"])["ocr:a#0"].reason == TIMEOUT


def test_a_stage_whose_workers_keep_dying_is_dead_until_one_finishes():
    log = FlightLog(max_stage_deaths=3)
    for attempt in range(3):
        log.begin(f"w{attempt}", "ocr", ["load:actor1"], alone=True)
        log.triage(f"w{attempt + 1}", ["load:actor1"])
    assert "3 ocr worker processes in a row died" in (log.stage_dead("ocr") or "")
    assert log.stage_dead("render") is None
    log.begin("w9", "ocr", ["ocr:b#0"])
    log.end("w9")  # some work finished: the engine is alive after all
    assert log.stage_dead("ocr") is None


def test_a_memory_overrun_is_charged_as_out_of_memory():
    log = FlightLog(max_attempts=1)
    log.begin("w1", "render", ["render:a#0"])
    log.expired("w1", "render:a#0", OUT_OF_MEMORY)
    verdict = log.triage("w2", ["render:a#0"])["render:a#0"]
    assert verdict.failed and verdict.reason == OUT_OF_MEMORY
    error_type, message = failure_message(verdict, "page 1")
    assert error_type == "out_of_memory" and "--page-memory" in message


def test_the_same_worker_asking_again_is_not_a_death():
    log = FlightLog()
    log.begin("w1", "ocr", ["ocr:a#0"])
    assert log.triage("w1", ["ocr:a#0"]) == {}


def _child(body: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent(
        """
        import sys, time
        from ops.watchdog import Watchdog
        reports = []
        dog = Watchdog(
            lambda what, why: print("expired", what, why, flush=True), backstop_grace_s=0.5
        )
        """
    ) + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_watchdog_kills_its_process_and_reports_what_overran():
    began = time.monotonic()
    child = _child(
        """
        with dog.guard("fast", 5):
            pass
        with dog.guard("page 7", 0.3):
            time.sleep(30)
        print("survived")
        """
    )
    assert child.returncode == -9  # SIGKILL
    assert "expired page 7 timeout" in child.stdout and "survived" not in child.stdout
    assert time.monotonic() - began < 15


def test_the_backstop_kills_code_that_holds_the_gil():
    child = _child(
        """
        import ctypes
        with dog.guard("page 3", 0.3):
            ctypes.PyDLL(None).sleep(30)  # C code holding the GIL: no Python thread runs
        print("survived")
        """
    )
    assert child.returncode != 0 and "survived" not in child.stdout
    assert "expired" not in child.stdout  # the watchdog thread never got the GIL
    assert "Timeout" in child.stderr  # faulthandler's dump


def test_the_watchdog_kills_a_block_that_outgrows_its_memory_ceiling():
    child = _child(
        """
        with dog.guard("small", None, 64 << 20):
            kept = bytearray(16 << 20)  # within the ceiling
        with dog.guard("page 2", None, 64 << 20):
            chunks = []
            for _ in range(40):  # 8 MB at a time, touched: resident memory really grows
                chunks.append(bytearray(8 << 20))
                time.sleep(0.05)
        print("survived")
        """
    )
    assert child.returncode == -9
    assert "expired page 2 out_of_memory" in child.stdout and "survived" not in child.stdout
    assert "expired small" not in child.stdout


def test_a_memory_ceiling_alone_needs_no_deadline():
    child = _child(
        """
        with dog.guard("quiet", None, 256 << 20):
            time.sleep(0.3)
        print("survived")
        """
    )
    assert child.returncode == 0 and "survived" in child.stdout
