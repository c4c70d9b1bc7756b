"""``pagemill bench --only vlm``: a model backend through the whole pipeline, reported as what a
run would cost at scale: pages/s, tokens/s, GPU-hours and CPU core-hours per million pages, the
forward batch sizes the actors settled on, and GPU utilisation where a GPU is present.

Without ``--vlm-model`` it builds a tiny random Qwen2-VL and runs it with the ``transformers``
backend on CPU: a smoke run that proves the path and the accounting, not a model's speed.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as pads

HOURS_PER_MILLION = 1_000_000 / 3600.0


def vlm_route(
    samples: Path,
    work: Path,
    pages: int,
    backend: str,
    model: str | None,
    num_cpus: int | None,
) -> dict[str, Any]:
    from pipelines import RunConfig, run
    from pipelines.bench.corpus import replicate
    from pipelines.runtime import cluster_cpus, ensure_ray, job_gpus

    files, total = replicate([samples / "scanned-letter.pdf"], work / "vlm-corpus", pages)
    smoke = model is None
    options: dict[str, str] = {}
    if smoke:
        from pipelines.bench.tiny_vlm import build_tiny_vlm

        backend = "transformers"
        model = str(build_tiny_vlm(work / "tiny-qwen2-vl"))
        options["max_tokens"] = "64"  # random weights never stop early: keep the smoke run short
    ensure_ray(num_cpus=num_cpus)
    cpus, gpus = cluster_cpus(), job_gpus(None)
    output = work / "vlm-out"
    with GpuUtilisation() as utilisation:
        result = run(
            RunConfig(
                input=str(work / "vlm-corpus"),
                output=str(output),
                backend=backend,
                backend_options={"model": model, **options},
                route="ocr",
                orientation="off",
                overwrite=True,
                progress=False,
                num_cpus=num_cpus,
                rows_per_call=16,
            )
        )
    summary = result.summary
    wall = summary.wall_seconds
    per_page_s = wall / summary.pages if summary.pages else 0.0
    return {
        "corpus": f"{len(files)} files, {total} scanned pages",
        "backend": backend,
        "model": model if not smoke else "tiny random Qwen2-VL (smoke run on CPU)",
        "cluster": {"cpus": cpus, "gpus": gpus},
        "pages_per_s": round(summary.pages_per_second, 3),
        "routes": summary.by_route_status,
        "output_tokens_per_s": round(summary.output_tokens / wall, 1) if wall else 0.0,
        "input_tokens_per_s": round(summary.input_tokens / wall, 1) if wall else 0.0,
        "gpu_hours_per_million_pages": round(gpus * per_page_s * HOURS_PER_MILLION, 1),
        "cpu_core_hours_per_million_pages": round(cpus * per_page_s * HOURS_PER_MILLION, 1),
        "fallback_pages": summary.fallback_pages,
        "batch_size_pages": summary.batch_sizes,
        "batch_size_trajectory": _trajectory(output, result.run_id),
        "gpu_utilisation_percent": utilisation.summary(),
    }


def _trajectory(output: Path, run_id: str) -> list[int]:
    """Forward batch sizes in the order pages finished, consecutive repeats collapsed."""
    table = pads.dataset(output / "pages", format="parquet").to_table(
        columns=["batch_size", "processed_at"],
        filter=(pc.field("run_id") == run_id) & pc.field("batch_size").is_valid(),
    )
    sizes = table.sort_by("processed_at").column("batch_size").to_pylist()
    return [size for index, size in enumerate(sizes) if index == 0 or size != sizes[index - 1]]


class GpuUtilisation:
    """Samples ``nvidia-smi`` every half second while in the block; nothing without a GPU."""

    def __init__(self, interval_s: float = 0.5) -> None:
        self._samples: list[float] = []
        self._interval = interval_s
        self._stop = threading.Event()
        self._tool = shutil.which("nvidia-smi")
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> GpuUtilisation:
        if self._tool:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._tool:
            self._thread.join()

    def _sample(self) -> None:
        query = [self._tool or "", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
        while not self._stop.is_set():
            try:
                out = subprocess.run(query, capture_output=True, text=True, timeout=5).stdout
                values = [float(line) for line in out.split() if line.strip()]
                if values:
                    self._samples.append(sum(values) / len(values))
            except (OSError, ValueError, subprocess.SubprocessError):
                return
            time.sleep(self._interval)

    def summary(self) -> dict[str, float] | str:
        if not self._samples:
            return "no GPU" if not self._tool else "no samples"
        ordered = sorted(self._samples)
        return {
            "mean": round(sum(ordered) / len(ordered), 1),
            "p50": ordered[len(ordered) // 2],
            "samples": len(ordered),
        }
