"""``pagemill bench``: throughput and memory of the pipeline against plain single-process loops
measured in the same run, reported as ratios (the machines are shared and noisy; ratios travel).

(a) text route: the whole job (read, route, write Parquet) on a born-digital corpus vs a plain
    pypdfium2 text loop over the same files;
(b) OCR route: the whole job vs a plain render-then-OCR loop with the same engine and dpi;
(c) peak memory (PSS of all Ray processes) for a 200-page and a 2,000-page PDF;
(d) ``vlm`` (only when asked for): a model backend end to end, as pages/s, tokens/s and hours per
    million pages (pipelines/bench/vlm.py);
(e) ``eval`` (only when asked for): ``pagemill eval`` on a synthetic output of 3,000-character
    pages vs a plain single-process scoring loop (pipelines/bench/evaluation.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from pipelines.cli_common import number

REPO_SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "docs"
PARTS = ("text", "ocr", "memory", "vlm", "eval")
DEFAULT_PARTS = ("text", "ocr", "memory")  # vlm needs a model (or runs a CPU smoke test): ask


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work-dir", default="bench-out", help="corpora, outputs and results")
    parser.add_argument("--samples", default=str(REPO_SAMPLES), help="folder with the samples")
    parser.add_argument(
        "--only",
        action="append",
        type=_parts,
        metavar="PART[,PART]",
        help=f"run only these parts, comma-separated or repeated ({', '.join(PARTS)}; default: "
        "text, ocr, memory; vlm and eval only when named)",
    )
    pages = number(int, 1)
    parser.add_argument("--text-pages", type=pages, default=5000, help="text-route corpus size")
    parser.add_argument("--ocr-pages", type=pages, default=240, help="OCR-route corpus size")
    parser.add_argument(
        "--memory-pages", type=_page_counts, default="200,2000", help="page counts of big PDFs"
    )
    parser.add_argument("--backend", default="tesseract", help="OCR engine for part (b)")
    parser.add_argument("--num-cpus", type=pages, default=None, help="CPUs for local Ray")
    parser.add_argument("--vlm-pages", type=pages, default=24, help="pages for the vlm part")
    parser.add_argument("--eval-pages", type=pages, default=20000, help="pages for the eval part")
    parser.add_argument(
        "--vlm-backend", default="vllm", help="model backend for the vlm part (with --vlm-model)"
    )
    parser.add_argument(
        "--vlm-model",
        default=None,
        help="local model folder for the vlm part; without it a tiny random Qwen2-VL runs on "
        "CPU with --vlm-backend and, on the same pages, the transformers backend (a smoke run "
        "comparing the engines' overheads)",
    )


def _parts(text: str) -> list[str]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in parts if part not in PARTS]
    if unknown or not parts:
        raise argparse.ArgumentTypeError(
            f"unknown part {', '.join(unknown) or repr(text)}; choose from {', '.join(PARTS)}"
        )
    return parts


def _page_counts(text: str) -> list[int]:
    parse = number(int, 1)
    return [int(parse(value)) for value in text.split(",")]


def main(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # the OCR baseline: one engine, one core
    work = Path(args.work_dir).resolve()
    samples = Path(args.samples)
    parts = [part for chosen in args.only or [DEFAULT_PARTS] for part in chosen]
    results: dict[str, Any] = {"machine": _machine(), "started_at": time.strftime("%FT%TZ")}
    if "text" in parts:
        results["text"] = _text_route(samples, work, args.text_pages, args.num_cpus)
        _print_part("text route", results["text"])
    if "ocr" in parts:
        results["ocr"] = _ocr_route(samples, work, args.ocr_pages, args.backend, args.num_cpus)
        _print_part("OCR route", results["ocr"])
    if "memory" in parts:
        counts = args.memory_pages
        results["memory"] = _memory(samples, work, counts, args.num_cpus)
        _print_part("memory", results["memory"])
    if "vlm" in parts:
        from pipelines.bench.vlm import vlm_route

        results["vlm"] = vlm_route(
            samples, work, args.vlm_pages, args.vlm_backend, args.vlm_model, args.num_cpus
        )
        _print_part("VLM route", results["vlm"])
    if "eval" in parts:
        from pipelines.bench.evaluation import eval_route

        results["eval"] = eval_route(work, args.eval_pages, args.num_cpus)
        _print_part("evaluation", results["eval"])
    report = work / "results.json"
    report.write_text(json.dumps(results, indent=2))
    print(f"\nresults: {report}")
    return 0


def _machine() -> dict[str, Any]:
    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _pipeline(input_dir: Path, output: Path, num_cpus: int | None, **options: Any):
    from pipelines import RunConfig, run

    config = RunConfig(
        input=str(input_dir),
        output=str(output),
        overwrite=True,
        progress=False,
        num_cpus=num_cpus,
        **options,
    )
    return run(config).summary


def _start_ray(num_cpus: int | None) -> float:
    import ray

    from pipelines.runtime import cluster_cpus, ensure_ray

    if ray.is_initialized():
        ray.shutdown()
    ensure_ray(num_cpus=num_cpus)
    return cluster_cpus()


def _text_route(samples: Path, work: Path, pages: int, num_cpus: int | None) -> dict[str, Any]:
    from pipelines.bench.baselines import text_loop
    from pipelines.bench.corpus import replicate

    sources = sorted(path for path in samples.glob("*.pdf") if path.name == "tracemonkey.pdf")
    files, total = replicate(sources or sorted(samples.glob("*.pdf")), work / "text-corpus", pages)
    cpus = _start_ray(num_cpus)
    baseline_pages, baseline_s = text_loop(files)
    summary = _pipeline(work / "text-corpus", work / "text-out", num_cpus)
    baseline = baseline_pages / baseline_s
    return {
        "corpus": f"{len(files)} files, {total} pages ({', '.join(s.name for s in sources)})",
        "cluster_cpus": cpus,
        "baseline_pages_per_s": round(baseline, 1),
        "pipeline_pages_per_s": round(summary.pages_per_second, 1),
        "pipeline_wall_s": round(summary.wall_seconds, 2),
        "routes": summary.by_route_status,
        "ratio_vs_baseline": round(summary.pages_per_second / baseline, 3),
        "ratio_per_core": round(summary.pages_per_second / baseline / cpus, 3),
    }


def _ocr_route(
    samples: Path, work: Path, pages: int, backend: str, num_cpus: int | None
) -> dict[str, Any]:
    from pipelines.bench.baselines import ocr_loop
    from pipelines.bench.corpus import replicate

    # Upright scans only: the hand-written baseline has no orientation step, so it would read
    # rotated pages wrongly and quickly, which is no comparison.
    sources = [samples / "scanned-letter.pdf"]
    files, total = replicate(sources, work / "ocr-corpus", pages)
    cpus = _start_ray(num_cpus)
    baseline_pages, baseline_s = ocr_loop(files, backend, dpi=150)
    same_work = _pipeline(
        work / "ocr-corpus", work / "ocr-out", num_cpus, backend=backend, orientation="off"
    )
    jpeg = _pipeline(
        work / "ocr-corpus",
        work / "ocr-out",
        num_cpus,
        backend=backend,
        orientation="off",
        image_format="jpeg",
    )
    default = _pipeline(work / "ocr-corpus", work / "ocr-out", num_cpus, backend=backend)
    baseline = baseline_pages / baseline_s
    return {
        "corpus": f"{len(files)} files, {total} scanned pages at 150 dpi, backend {backend}",
        "cluster_cpus": cpus,
        "baseline_pages_per_s": round(baseline, 2),
        "pipeline_png_pages_per_s": round(same_work.pages_per_second, 2),
        "ratio_png": round(same_work.pages_per_second / baseline, 3),
        "pipeline_jpeg_pages_per_s": round(jpeg.pages_per_second, 2),
        "ratio_jpeg": round(jpeg.pages_per_second / baseline, 3),
        "pipeline_defaults_pages_per_s": round(default.pages_per_second, 2),
        "ratio_defaults": round(default.pages_per_second / baseline, 3),
        "routes": same_work.by_route_status,
    }


def _memory(samples: Path, work: Path, counts: list[int], num_cpus: int | None) -> dict[str, Any]:
    """Each size runs as its own ``pagemill run`` process with a fresh local Ray, measured from
    outside, so nothing this process allocated (building the PDFs) is counted."""
    import sys

    import ray

    from pipelines.bench.corpus import big_pdf
    from pipelines.bench.memory import peak_of_command

    if ray.is_initialized():
        ray.shutdown()
    cycle = [(samples / "tracemonkey.pdf", index) for index in range(4)]
    cycle.append((samples / "scanned-letter.pdf", 0))
    folders = {count: work / f"memory-{count}" for count in counts}
    for count, folder in folders.items():
        big_pdf(cycle, count, folder / f"big-{count}.pdf")
    results: dict[str, Any] = {"page_mix": "4 text pages : 1 scanned page, fake OCR engine"}
    peaks = {}
    for count, folder in folders.items():
        command = [
            sys.executable,
            "-m",
            "pipelines.cli",
            "run",
            str(folder),
            str(work / f"memory-out-{count}"),
            "--backend",
            "fake",
            "--overwrite",
            "--no-progress",
        ]
        if num_cpus:
            command += ["--num-cpus", str(num_cpus)]
        began = time.perf_counter()
        code, peaks[count] = peak_of_command(command)
        if code != 0:
            raise RuntimeError(f"memory run for {count} pages exited with {code}")
        results[f"{count}_pages"] = {
            "peak_pss_mb": round(peaks[count] / 2**20, 1),
            "file_mb": round((folder / f"big-{count}.pdf").stat().st_size / 2**20, 1),
            "wall_s_with_ray_start": round(time.perf_counter() - began, 2),
        }
    if len(counts) >= 2:
        results["ratio_largest_to_smallest"] = round(peaks[max(counts)] / peaks[min(counts)], 3)
    return results


def _print_part(title: str, values: dict[str, Any]) -> None:
    print(f"\n== {title}")
    for key, value in values.items():
        print(f"  {key}: {value}")
