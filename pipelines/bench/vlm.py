"""``pagemill bench --only vlm``: a model backend through the whole pipeline, reported as what a
run would cost at scale: pages/s, tokens/s, GPU-hours and CPU core-hours per million pages, the
forward batch sizes the actors settled on, and GPU utilisation where a GPU is present.

Without ``--vlm-model`` it builds a tiny random Qwen2-VL and runs it on CPU with the chosen backend
and, beside it on the same pages, the ``transformers`` backend: a smoke run that proves the path
and the accounting and compares the engines' overheads, not a model's speed.
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


# The tiny model's engine settings on CPU: its own dtype, no graph compilation, a small KV cache.
SMOKE_OPTIONS: dict[str, dict[str, str]] = {
    "vllm": {
        "dtype": "float32",
        "enforce_eager": "true",
        "max_model_len": "1024",
        "max_num_seqs": "16",
        "cpu_kvcache_gb": "1",
    },
    "transformers": {},
}
SMOKE_MAX_TOKENS = "64"  # the random model's answers end after ~20 tokens


def vlm_route(
    samples: Path,
    work: Path,
    pages: int,
    backend: str,
    model: str | None,
    num_cpus: int | None,
) -> dict[str, Any]:
    """``backend`` reading ``pages`` scanned pages through the whole pipeline.

    Without a model this is a smoke run on CPU with a tiny random Qwen2-VL (head width 64, which
    vLLM's CPU engine accepts), and a backend other than ``transformers`` is run beside the
    ``transformers`` backend on the same pages in the same run: a comparison of the two
    engines' overheads, not of models. A smoke run of a backend that is not installed here
    (vLLM outside ``.venv-vllm``) runs ``transformers`` alone and says so.
    """
    from ops.backends import MissingDependency, backend_class
    from pipelines.bench.corpus import replicate
    from pipelines.runtime import ensure_ray

    files, total = replicate([samples / "scanned-letter.pdf"], work / "vlm-corpus", pages)
    ensure_ray(num_cpus=num_cpus)
    corpus = f"{len(files)} files, {total} scanned pages"
    if model is not None:
        return {"corpus": corpus, **_measure(work, backend, model, {}, num_cpus)}
    from pipelines.bench.tiny_vlm import build_tiny_vlm

    tiny = str(build_tiny_vlm(work / "tiny-qwen2-vl", head_dim=64))
    note = None
    try:
        backend_class(backend).check_dependencies()
    except MissingDependency as exc:
        note = f"{exc}; ran transformers alone (make vllm-cpu builds an environment with vLLM)"
        backend = "transformers"
    names = [backend] if backend == "transformers" else [backend, "transformers"]
    runs = {
        name: _measure(
            work, name, tiny, {**SMOKE_OPTIONS.get(name, {}), "max_tokens": SMOKE_MAX_TOKENS}
        )
        for name in names
    }
    report: dict[str, Any] = {
        "corpus": corpus,
        **runs[backend],
        "model": "tiny random Qwen2-VL, head width 64 (smoke run on CPU)",
    }
    if note:
        report["note"] = note
    if len(runs) > 1:
        baseline = runs["transformers"]
        report["transformers_same_pages"] = baseline
        for key in ("pages_per_s", "engine_pages_per_s"):
            if baseline[key]:
                report[f"{key}_vs_transformers"] = round(report[key] / baseline[key], 2)
    return report


def _measure(
    work: Path, backend: str, model: str, options: dict[str, str], num_cpus: int | None = None
) -> dict[str, Any]:
    from pipelines import RunConfig, run
    from pipelines.runtime import cluster_cpus, job_gpus

    cpus, gpus = cluster_cpus(), job_gpus(None)
    output = work / f"vlm-out-{backend}"
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
            )
        )
    summary = result.summary
    wall = summary.wall_seconds
    per_page_s = wall / summary.pages if summary.pages else 0.0
    engine_seconds = _engine_seconds(output, result.run_id)
    return {
        "backend": backend,
        "model": model,
        "cluster": {"cpus": cpus, "gpus": gpus},
        "wall_s": round(wall, 1),
        "pages_per_s": round(summary.pages_per_second, 3),
        # Pages per second of page time in the actors (render share, engine call, fallback):
        # the rate once the engine is up, without the start of the job and of the engine.
        "engine_pages_per_s": round(summary.pages / engine_seconds, 2) if engine_seconds else 0.0,
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


def _engine_seconds(output: Path, run_id: str) -> float:
    table = pads.dataset(output / "pages", format="parquet").to_table(
        columns=["latency_ms"], filter=pc.field("run_id") == run_id
    )
    return float(pc.sum(table.column("latency_ms")).as_py() or 0.0) / 1000.0


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
