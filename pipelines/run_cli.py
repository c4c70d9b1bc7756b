"""``pagemill run``'s options, and what the command prints when the run ends: the summary
(table or ``--json``), ``--strict``'s verdict, and the resume command after an interruption."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ops.backends import names
from ops.imaging import DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_PIXELS, IMAGE_FORMATS
from ops.layout.steps import ALL as ALL_STEPS
from ops.layout.steps import DEHYPHENATE, HEADERS_FOOTERS, MARKDOWN, STEPS, TextSteps
from ops.layout.steps import NONE as NO_STEPS
from ops.ocr import Orientation
from ops.routing import RouteMode
from pipelines.cli_common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STRICT,
    HelpFormatter,
    add_password_options,
    add_price_options,
    number,
)
from pipelines.config import RunConfig
from pipelines.presets import PRESETS
from pipelines.presets import describe as describe_presets


def add_run(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    run = commands.add_parser(
        "run",
        help="convert documents to Parquet page rows",
        description=(
            "Convert PDFs and images to one Parquet row per page. Pages with a usable text layer "
            "take the text route (no OCR); the others are rendered and sent to the OCR backend."
        ),
        epilog="presets (--preset NAME; options given on the command line win):\n"
        + describe_presets(),
        formatter_class=HelpFormatter,
    )
    run.add_argument(
        "input",
        metavar="INPUT",
        nargs="+",
        help="folder, glob, list file (.txt: one path/URI per line), single PDF or "
        "image, or an s3:// or gs:// prefix; several may be given (an unquoted glob the "
        "shell expanded reads every file it named)",
    )
    run.add_argument("output", metavar="OUTPUT", help="output folder (pages/ and _runs/ inside)")
    run.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=None,
        help="start from a named set of options (listed below)",
    )
    engine = run.add_argument_group("engine")
    engine.add_argument(
        "--backend",
        default="tesseract",
        choices=names(),
        help="OCR backend for pages without a usable text layer",
    )
    engine.add_argument(
        "--backend-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend option, repeatable (tesseract: lang, psm; rapidocr: threads)",
    )
    engine.add_argument(
        "--fallback",
        default="auto",
        metavar="ENGINE",
        help="engine that reads a page when a model's output stays unusable (truncated, "
        "runaway repetition, empty) after its retries: auto = the backend's choice (tesseract "
        "for model backends, none for OCR engines), none = make it an error row, or a backend "
        "name",
    )
    engine.add_argument(
        "--fallback-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option of the fallback engine, repeatable (e.g. lang=deu for tesseract)",
    )
    engine.add_argument(
        "--orientation",
        choices=[mode.value for mode in Orientation],
        default="auto",
        help="0/90/180/270° correction before OCR: auto = detect when the upright read looks "
        "wrong (low confidence or nonsense), always = detect on every page, off",
    )
    engine.add_argument(
        "--pool-size",
        type=number(int, 1),
        default=None,
        help="most OCR actors (default: one per CPU in the cluster; the pool starts with one "
        "and grows as OCR work queues up)",
    )
    engine.add_argument(
        "--rows-per-call",
        type=number(int, 1),
        default=None,
        help="page rows given to an OCR actor per call (default: the backend's: 8 for OCR "
        "engines and transformers, 32 for openai, 64 for vllm, which schedules its own batches)",
    )
    engine.add_argument(
        "--batch-size",
        type=number(int, 1),
        default=None,
        help="pages per engine call to start with (the forward batch; at most --rows-per-call). "
        "It adapts while running: halved and retried on out-of-memory, grown while pages get "
        "faster (default: the backend's, capped by --rows-per-call)",
    )
    engine.add_argument(
        "--max-batch-size",
        type=number(int, 1),
        default=None,
        help="most pages per engine call (default: --rows-per-call)",
    )
    routing = run.add_argument_group("routing and rendering")
    routing.add_argument(
        "--route",
        choices=[mode.value for mode in RouteMode],
        default="auto",
        help="auto: per page by text-layer quality; text/ocr: force one route",
    )
    routing.add_argument(
        "--min-text-score",
        type=number(float, 0, 1),
        default=0.5,
        help="text-layer quality (0-1) needed to skip OCR",
    )
    routing.add_argument(
        "--dpi", type=number(int, 10, 2400), default=150, help="render resolution for OCR"
    )
    routing.add_argument(
        "--max-pixels",
        type=number(int, 1),
        default=DEFAULT_MAX_PIXELS,
        help="cap on rendered pixels per page (bigger pages render at lower dpi)",
    )
    routing.add_argument(
        "--max-image-pixels",
        type=number(int, 1),
        default=DEFAULT_MAX_IMAGE_PIXELS,
        help="input images larger than this become error rows",
    )
    routing.add_argument(
        "--text-steps",
        type=text_steps,
        default=ALL_STEPS,
        metavar="STEPS",
        help=f"clean-up of page text, text layer and OCR alike: {ALL_STEPS}, {NO_STEPS}, or a "
        f"comma list of steps ({', '.join(STEPS)}). {HEADERS_FOOTERS}: running heads, "
        "footers and page numbers (lines at a page's ends that repeat on the document's other "
        "pages, or read as a page number) move from text to the header_text and footer_text "
        f"columns. {DEHYPHENATE}: a word split by a hyphen at a line end is joined where the "
        f"document's own words say so. {MARKDOWN}: text-route pages also get a markdown column "
        "with their headings, list items and tables",
    )
    routing.add_argument(
        "--image-format",
        choices=("auto", *IMAGE_FORMATS),
        default="auto",
        help="how rendered pages travel to OCR: png (lossless) or jpeg (quality 90: less CPU, "
        "same CER with tesseract, worse with rapidocr); auto picks per backend: jpeg for "
        "tesseract, png otherwise (default: %(default)s)",
    )
    routing.add_argument(
        "--pages-per-unit",
        type=number(int, 1),
        default=32,
        help="pages per work unit (bounds memory per task)",
    )
    limits = run.add_argument_group("deadlines and crashes")
    limits.add_argument(
        "--page-timeout",
        type=number(float, 0),
        default=120.0,
        help="seconds a page may take to render, or to read per page of an engine call, before "
        "its worker is killed and the page retried (then an error row with error_type=timeout); "
        "holds even when native code never returns; 0 = no limit",
    )
    limits.add_argument(
        "--document-timeout",
        type=number(float, 0),
        default=600.0,
        help="seconds opening one document may take (same handling); 0 = no limit",
    )
    limits.add_argument(
        "--page-memory",
        type=number(int, 0),
        default=2048,
        metavar="MB",
        help="resident memory one page may add to its worker while it is opened and rendered "
        "(decompression bombs inside pdfium): past it the worker is killed and the page retried, "
        "then an error row with error_type=out_of_memory; 0 = no limit",
    )
    limits.add_argument(
        "--max-attempts",
        type=number(int, 1),
        default=2,
        help="worker processes a page (or document) may take down, by crashing or overrunning "
        "its deadline, before it becomes an error row and the job moves on",
    )
    add_password_options(run)
    cluster = run.add_argument_group("cluster and output")
    cluster.add_argument(
        "--address",
        default=None,
        help="Ray cluster to attach to (default: $RAY_ADDRESS, else start locally)",
    )
    cluster.add_argument(
        "--num-cpus",
        type=number(int, 1),
        default=None,
        help="CPUs for a locally started Ray (default: all)",
    )
    cluster.add_argument(
        "--gpus",
        type=number(float, 0),
        default=None,
        help="GPUs for model backends: one engine per GPU (or per GPU share the backend asks "
        "for), in a fixed pool (default: every GPU the cluster advertises)",
    )
    cluster.add_argument(
        "--rows-per-file",
        type=number(int, 1),
        default=50_000,
        help="maximum rows per Parquet shard",
    )
    cluster.add_argument(
        "--max-inflight-mb",
        type=number(int, 1),
        default=512,
        help="object-store memory the job may fill with pages between stages "
        "(bounds memory whatever the input size)",
    )
    cluster.add_argument(
        "--overwrite",
        action="store_true",
        help="delete what earlier runs wrote to OUTPUT and start clean (default: resume: only "
        "pages without a row are processed)",
    )
    cluster.add_argument(
        "--retry-failed",
        action="store_true",
        help="when resuming, also redo pages and documents whose row is an error; their new "
        "rows replace the error rows",
    )
    cluster.add_argument(
        "--strict", action="store_true", help=f"exit {EXIT_STRICT} if any page or document failed"
    )
    cluster.add_argument(
        "--metrics-port",
        type=number(int, 1, 65535),
        default=None,
        metavar="PORT",
        help="a locally started Ray serves its metrics, pagemill's included, for Prometheus at "
        "http://127.0.0.1:PORT/metrics (a cluster's own agents export them already)",
    )
    add_price_options(cluster, "the summary adds the price per million pages")
    console = run.add_argument_group("console")
    console.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress line (on a terminal it is redrawn in place; otherwise printed every "
        "PAGEMILL_PROGRESS_SECONDS, default 5)",
    )
    console.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="print only the summary (and errors): no progress, no warnings",
    )
    console.add_argument(
        "--json",
        action="store_true",
        help="print the summary as one JSON object on stdout, for scripts",
    )
    return run


def judge_strictly(output: str) -> int:
    """``--strict`` judges the whole OUTPUT, not this run: a resume that had nothing left to do
    still fails while error rows from earlier runs remain, and says which."""
    from pipelines.status import collect

    status = collect(output)
    if not (status.pages_failed or status.document_errors):
        return EXIT_OK
    print(
        f"pagemill: --strict: {output} holds {status.pages_failed} failed pages and "
        f"{status.document_errors} documents that never opened:",
        file=sys.stderr,
    )
    for error in status.errors:
        message = (error["message"] or "").strip()
        reason = message.splitlines()[0] if message else "no message"
        print(
            f"  {error['error_type']}: {error['rows']} rows, e.g. {error['example']}: {reason}",
            file=sys.stderr,
        )
    return EXIT_STRICT


def interrupted(config: RunConfig) -> int:
    """Ctrl-C or SIGTERM: what was written stays (every shard is whole), and the same command
    resumes; the manifest already says ``interrupted``."""
    from pipelines.rerun import resume_argv

    command = shlex.join(resume_argv(config.public_dict(), config.output))
    print(
        f"\npagemill: interrupted. Pages written so far are kept in {config.output}; "
        f"resume with:\n  {command}",
        file=sys.stderr,
    )
    return EXIT_INTERRUPTED


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler, ``kill``) ends the run the way Ctrl-C does: recorded, resumable."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (a notebook's worker, a test runner): leave it
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def summary_document(config: RunConfig, result) -> dict[str, object]:
    """What ``--json`` prints: the summary's fields plus where to find the run."""
    return {
        "run_id": result.run_id,
        "output": config.output,
        "manifest": result.manifest_path,
        **result.summary.as_dict(),
        "cost": result.cost,
        "changed_settings": result.changed_settings,
    }


def render_summary(config: RunConfig, result) -> str:
    from pipelines.cost import describe as describe_cost
    from pipelines.sql import format_table

    summary = result.summary
    rows = [
        ["inputs", str(summary.inputs)],
        ["documents", str(summary.documents)],
        ["pages", str(summary.pages)],
    ]
    rows += [[f"  {key}", str(value)] for key, value in summary.by_route_status.items()]
    rows.append(["document errors", str(summary.document_errors)])
    if summary.documents_skipped or summary.pages_skipped:
        rows.append(["already done (skipped)", f"{summary.pages_skipped} pages"])
    rows += [[f"  error: {key}", str(value)] for key, value in summary.by_error_type.items()]
    if summary.input_tokens or summary.output_tokens:
        rows.append(["model tokens in / out", f"{summary.input_tokens} / {summary.output_tokens}"])
        rows.append(["read by the fallback", str(summary.fallback_pages)])
    rows += [
        ["wall time", f"{summary.wall_seconds:.1f} s"],
        ["pages/s", f"{summary.pages_per_second:.1f}"],
        *([name, value] for name, value in describe_cost(result.cost)),
        ["output", f"{config.output}/pages"],
        ["manifest", result.manifest_path],
    ]
    example = shlex.join(
        [
            "pagemill",
            "query",
            config.output,
            "SELECT route, status, count(*) AS pages FROM pages GROUP BY ALL ORDER BY ALL",
        ]
    )
    table = format_table(["pagemill run " + result.run_id, "count"], rows)
    return f"\n{table}\n\nquery it:\n  {example}\n"


def text_steps(spec: str) -> str:
    """An argparse ``type``: ``--text-steps`` checked before any work (exit 2 on a typo)."""
    try:
        TextSteps.parse(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return spec
