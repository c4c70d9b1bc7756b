"""``pagemill show OUTPUT DOC [PAGE]``: one document's pages, or one page's text and metadata.

DOC is whatever a user has at hand: a doc_id (or its first characters), the source path or URI,
or the end of it (``report.pdf``, ``2024/report.pdf``), as long as it names one document.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any

from pipelines.cli_common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_password_options, number
from pipelines.sql import connect, format_table

MIN_ID_PREFIX = 6
# What the page view shows above the text, in this order (when set).
PAGE_FIELDS = (
    "source_uri", "doc_id", "page_number", "page_count", "route", "route_reason", "backend",
    "model", "status", "error_type", "error_stage", "error_message", "char_count", "header_text",
    "footer_text", "primary_language",
    "text_layer_score", "rotation", "dpi", "latency_ms", "batch_size", "attempts", "is_fallback",
    "finish_reason", "input_tokens", "output_tokens", "run_id", "node", "processed_at",
)  # fmt: skip


class NotFound(LookupError):
    """DOC or PAGE names nothing in the output, or more than one document."""


def add_show(commands: argparse._SubParsersAction, formatter: type) -> None:
    show = commands.add_parser(
        "show",
        help="one document's pages, or one page's text and metadata",
        description="Print a document's pages (route, status, characters, error) or, with "
        "PAGE, that page's metadata and text. DOC is a doc_id (or its first 6+ characters), "
        "the source path or URI, or a unique end of it (report.pdf).",
        formatter_class=formatter,
    )
    show.add_argument("output", metavar="OUTPUT")
    show.add_argument("doc", metavar="DOC")
    show.add_argument("page", metavar="PAGE", nargs="?", type=number(int, 1), default=None)
    show.add_argument(
        "--image",
        metavar="FILE.png",
        default=None,
        help="also render the page from its source into this PNG (needs PAGE)",
    )
    show.add_argument("--format", choices=["text", "json"], default="text")
    add_password_options(show)


def run_show(args: argparse.Namespace) -> int:
    try:
        uri, doc_id = find_document(args.output, args.doc)
        rows = document_rows(args.output, uri, doc_id)
        if args.page is None:
            if args.image:
                raise NotFound("--image needs a PAGE: which page to render")
            return _print_document(args.output, rows, args.format)
        (row,) = [row for row in rows if row["page_number"] == args.page] or [None]
        if row is None:
            raise NotFound(f"{uri} has no row for page {args.page} ({_pages(rows)})")
    except (NotFound, FileNotFoundError, ValueError) as exc:
        print(f"pagemill: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.image and not _render(row, args):
        return EXIT_FAILED
    if args.format == "json":
        print(json.dumps(row, indent=1, default=str, ensure_ascii=False))
    else:
        print(render_page(row))
    return EXIT_OK


def find_document(output: str, doc: str) -> tuple[str, str | None]:
    """``(source_uri, doc_id)`` of the one document ``doc`` names."""
    connection = connect(output)
    try:
        documents = connection.sql("SELECT DISTINCT source_uri, doc_id FROM pages").fetchall()
    finally:
        connection.close()
    for matches in (
        [d for d in documents if doc in d],  # a whole doc_id or source
        [d for d in documents if len(doc) >= MIN_ID_PREFIX and (d[1] or "").startswith(doc)],
        [d for d in documents if d[0].split("?", 1)[0].endswith("/" + doc.lstrip("/"))],
        [d for d in documents if d[0].split("?", 1)[0].endswith(doc)],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            listed = "\n  ".join(f"{uri} ({doc_id})" for uri, doc_id in sorted(matches)[:5])
            more = f"\n  ... {len(matches) - 5} more" if len(matches) > 5 else ""
            raise NotFound(f"{doc!r} names {len(matches)} documents:\n  {listed}{more}")
    raise NotFound(
        f"no document in {output} matches {doc!r} (try the file name, the path or a doc_id; "
        f'pagemill query {output} "SELECT DISTINCT source_uri FROM pages" lists them)'
    )


def document_rows(output: str, uri: str, doc_id: str | None) -> list[dict[str, Any]]:
    connection = connect(output)
    try:
        relation = connection.execute(
            "SELECT * FROM pages WHERE source_uri = ? AND doc_id IS NOT DISTINCT FROM ? "
            "ORDER BY page_index NULLS FIRST, status = 'ok' DESC, processed_at DESC",
            [uri, doc_id],
        )
        columns = [description[0] for description in relation.description]
        rows = [dict(zip(columns, values, strict=True)) for values in relation.fetchall()]
    finally:
        connection.close()
    best: dict[Any, dict[str, Any]] = {}
    for row in rows:  # one row per page: the first is the one reconciliation keeps
        best.setdefault(row["page_index"], row)
    return list(best.values())


def _print_document(output: str, rows: list[dict[str, Any]], fmt: str) -> int:
    if fmt == "json":
        print(json.dumps(rows, indent=1, default=str, ensure_ascii=False))
        return EXIT_OK
    first = rows[0]
    print(f"{first['source_uri']}\ndoc {first['doc_id']}, {first['page_count'] or '?'} pages\n")
    table = [
        [
            "-" if row["page_number"] is None else str(row["page_number"]),
            row["route"] or "",
            row["status"] or "",
            str(row["char_count"] or 0),
            row["backend"] or "",
            row["error_type"] or "",
        ]
        for row in rows
    ]
    print(format_table(["page", "route", "status", "chars", "backend", "error"], table))
    for row in rows:
        if row["status"] != "ok" and row["error_message"]:
            where = "document" if row["page_number"] is None else f"page {row['page_number']}"
            print(f"\n{where}: {row['error_message'].strip().splitlines()[0]}")
    handle = (first["doc_id"] or "")[:12] or first["source_uri"]
    print(f"\none page: pagemill show {shlex.quote(output)} {shlex.quote(handle)} PAGE")
    return EXIT_OK


def render_page(row: dict[str, Any]) -> str:
    fields = [(name, row.get(name)) for name in PAGE_FIELDS if row.get(name) not in (None, "")]
    width = max(len(name) for name, _ in fields)
    lines = [f"{name:<{width}}  {_value(value)}" for name, value in fields]
    text = row.get("text")
    rule = "-" * 72
    body = text if text else "(no text)"
    return "\n".join([*lines, rule, body.rstrip(), rule])


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    text = str(value)
    return text.replace("\n", " ⏎ ") if len(text) < 400 else text[:400] + "…"


def _pages(rows: list[dict[str, Any]]) -> str:
    numbers = sorted(row["page_number"] for row in rows if row["page_number"] is not None)
    return f"pages {numbers[0]}-{numbers[-1]}" if numbers else "no page rows: it never opened"


def _render(row: dict[str, Any], args: argparse.Namespace) -> bool:
    from ops.evaluation.judging import page_png
    from pipelines.config import passwords

    secrets = passwords(args.password, args.password_file, args.password_map)
    png = page_png(row["source_uri"], row["source_kind"] or "pdf", row["page_number"], secrets)
    if png is None:
        print(
            f"pagemill: error: cannot render page {row['page_number']} of {row['source_uri']} "
            "(is the source still there, and its password given?)",
            file=sys.stderr,
        )
        return False
    with open(args.image, "wb") as image:
        image.write(png)
    print(f"page image: {args.image}", file=sys.stderr)
    return True
