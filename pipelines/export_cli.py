"""``pagemill export``: the command-line face of :mod:`pipelines.export`."""

from __future__ import annotations

import argparse
import json
import sys

from ops.exports import DEFAULT_PAGE_MARKER
from pipelines.cli_common import EXIT_OK, EXIT_USAGE, number


def add_export(commands: argparse._SubParsersAction, formatter: type) -> None:
    export = commands.add_parser(
        "export",
        help="write an output's pages as markdown, JSONL or Dolma for other tools",
        description=(
            "Stream OUTPUT's pages, in document and page order, into DEST (a folder or an "
            "s3:// / gs:// prefix):\n"
            "  markdown  DEST/markdown/PATH.md, one per document, named after its source below "
            "the sources'\n            common folder; a marker before each page, unreadable "
            "pages and documents\n            marked as such\n"
            "  jsonl     DEST/jsonl/pages-NNNNN.jsonl, one line per page with its columns\n"
            "  dolma     DEST/dolma/documents/pagemill-NNNNN.jsonl.gz, one document per line "
            "as olmOCR\n            writes them (id, text, source, added, created, metadata; "
            "attributes.pdf_page_numbers\n            = [start, end, page] character spans)\n"
            "Rerunning rewrites the same files and removes what an earlier export wrote and "
            "this one did not: no duplicates. DEST/_export.json records what was written."
        ),
        formatter_class=formatter,
    )
    export.add_argument("output", metavar="OUTPUT", help="a pagemill output")
    export.add_argument("dest", metavar="DEST", help="where the files go")
    export.add_argument(
        "--format",
        default="markdown",
        metavar="FORMATS",
        help="markdown, jsonl, dolma, or several comma-separated (markdown,dolma)",
    )
    export.add_argument(
        "--where",
        default=None,
        metavar="SQL",
        help="only rows matching this condition on the pages view, e.g. \"status = 'ok'\" or "
        "\"route = 'ocr'\"",
    )
    export.add_argument(
        "--columns",
        default=None,
        metavar="A,B,...",
        help="jsonl: these columns only (default: all), e.g. source_uri,page_number,text",
    )
    export.add_argument(
        "--page-marker",
        default=DEFAULT_PAGE_MARKER,
        metavar="TEXT",
        help="markdown: the line before each page; {page} is its number (e.g. "
        "'--- page {page} ---' for a visible one)",
    )
    export.add_argument(
        "--shard-mb",
        type=number(int, 1),
        default=128,
        help="jsonl and dolma: uncompressed MB per shard file",
    )
    export.add_argument(
        "--memory-mb",
        type=number(int, 64),
        default=512,
        help="memory DuckDB may use to sort the pages; beyond it, it spills to a temporary folder",
    )
    export.add_argument("--json", action="store_true", help="print what was written as JSON")


def run_export(args: argparse.Namespace) -> int:
    import duckdb

    from pipelines.export import ExportConfig, export

    config = ExportConfig(
        output=args.output,
        dest=args.dest,
        formats=tuple(part.strip() for part in args.format.split(",") if part.strip()),
        where=args.where,
        columns=tuple(part.strip() for part in args.columns.split(",")) if args.columns else None,
        page_marker=args.page_marker,
        shard_mb=args.shard_mb,
        memory_mb=args.memory_mb,
    )
    try:
        result = export(config)
    except (ValueError, FileNotFoundError, duckdb.Error) as exc:
        print(f"pagemill: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps({**result.as_dict(), "manifest": result.manifest}, indent=1))
        return EXIT_OK
    files = ", ".join(f"{len(paths):,} {name}" for name, paths in result.files.items())
    print(
        f"exported {result.documents:,} documents ({result.pages:,} pages, "
        f"{result.error_rows:,} error rows) in {result.seconds:.1f} s: {files} files in "
        f"{args.dest}"
    )
    if result.dolma_skipped:
        print(f"  dolma: {result.dolma_skipped:,} documents without a readable page left out")
    if result.removed:
        print(f"  {result.removed:,} files of an earlier export removed")
    return EXIT_OK
