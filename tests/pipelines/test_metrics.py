"""A run you can watch: pagemill's counters as Ray metrics (scraped from a local Ray's
Prometheus endpoint while a run goes on), and the cost figures its manifest records."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from pipelines.cost import combined, cost_figures, describe, priced
from tests.processes import free_ports, stop_group

DONE = re.compile(r'^ray_pagemill_pages_done_total\{.*run="([^"]+)".*\} ([\d.]+)$', re.M)
ROUTE_OK = re.compile(
    r'^ray_pagemill_pages_finished_total\{(?=.*route="ocr")(?=.*status="ok").*\} [1-9][\d.]*$', re.M
)
BATCH = re.compile(r'^ray_pagemill_batch_size\{.*actor="[^"]+".*\} [1-9][\d.]*$', re.M)


@pytest.mark.slow
def test_the_metrics_endpoint_shows_the_counters_move_during_a_run(samples, tmp_path):
    (port,) = free_ports()
    output = tmp_path / "out"
    argv = [sys.executable, "-m", "pipelines.cli", "run", str(samples / "docs"), str(output)]
    argv += ["--backend", "fake", "--route", "ocr", "--backend-option", "delay_ms=600"]
    argv += ["--metrics-port", str(port), "--no-progress", "--num-cpus", "2"]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_metrics_report_interval_ms": "500"}
    job = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    seen: list[float] = []
    page: str = ""  # the last scrape that had pagemill's counters
    try:
        deadline = time.monotonic() + 240
        while job.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    body = r.read().decode()
                values = [float(v) for _, v in DONE.findall(body)]
                if values and (not seen or values[0] != seen[-1]):
                    seen.append(values[0])
                    page = body
            except OSError:
                pass  # Ray not up yet, or already gone
            time.sleep(0.3)
        _, err = job.communicate(timeout=120)
    finally:
        if job.poll() is None:
            stop_group(job)
    assert job.returncode == 0, err.decode()[-3000:]
    # Seen while the run went on: more than one value, growing.
    assert len(seen) >= 2 and seen == sorted(seen) and seen[-1] > 0, seen
    # Pages by route and status, and the engine actor's next forward batch size.
    assert ROUTE_OK.search(page) and BATCH.search(page), page[-3000:]
    (manifest,) = (json.loads(p.read_text()) for p in (output / "_runs").glob("*.json"))
    assert {"plan", "pages", "ocr", "write"} <= set(manifest["stages"])
    assert manifest["cost"]["core_hours_per_million_pages"] > 0


def test_cost_figures_per_million_pages_and_route():
    stages = {"pages": {"wall_s": 10.0, "cpu_s": 7.2}, "ocr": {"wall_s": 40.0, "cpu_s": 28.8}}
    figures = cost_figures(
        stages,
        gpu_seconds=72.0,
        pages=1000,
        route_pages={"text": 800, "ocr": 200},
        route_seconds={"text": 1.44, "ocr": 36.0},
        price_per_core_hour=0.04,
        price_per_gpu_hour=2.0,
    )
    assert figures["cpu_core_hours"] == 0.01 and figures["core_hours_per_million_pages"] == 10.0
    assert figures["gpu_hours_per_million_pages"] == 20.0
    assert figures["by_route"]["ocr"]["core_hours_per_million_pages"] == 50.0
    assert figures["by_route"]["text"]["core_hours_per_million_pages"] == 0.5
    assert figures["price_per_million_pages"] == 40.4  # 10 x 0.04 + 20 x 2
    lines = dict(describe(figures))
    assert lines["CPU core-hours / 1M pages"] == "10.0" and lines["price / 1M pages"] == "40.40"
    assert cost_figures({}, 0.0, 0, {}, {}) == {"cpu_core_hours": 0.0, "gpu_hours": 0.0, "pages": 0}


def test_status_prices_and_combines_the_figures_of_several_runs():
    first = cost_figures({"ocr": {"cpu_s": 36.0}}, 0.0, 1000, {"ocr": 1000}, {"ocr": 36.0})
    second = cost_figures({"ocr": {"cpu_s": 72.0}}, 360.0, 1000, {"ocr": 1000}, {"ocr": 72.0})
    both = combined([first, second, {}])
    assert both["pages"] == 2000 and both["core_hours_per_million_pages"] == 15.0
    assert both["gpu_hours_per_million_pages"] == 50.0
    assert "price_per_million_pages" not in priced(both)  # no prices: nothing to price
    assert priced(both, 0.1, 2.0)["price_per_million_pages"] == 101.5  # 15 x 0.1 + 50 x 2
    # A run's own prices stay unless replaced: only the GPU price changes here.
    own = cost_figures({"ocr": {"cpu_s": 36.0}}, 0.0, 1000, {}, {}, price_per_core_hour=1.0)
    assert priced(own, price_per_gpu_hour=3.0)["price_per_million_pages"] == 10.0
    assert priced({}, 1.0) == {}
