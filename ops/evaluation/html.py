"""The evaluation report's ``index.html``: one self-contained page to judge OCR quality.

The page is opened from disk, often copied off a cluster, so it carries everything inline: CSS,
SVG plots (:mod:`ops.evaluation.html_svg`), page images as ``data:`` URLs, and no script at all.
It is rendered from the plain dicts of ``summary.json`` and the worst-page examples, not from the
scoring code, so the page can be re-rendered from a stored summary. Every user-provided string
(texts, paths, reasons, labels) goes through :func:`html.escape`; a missing metric reads "—".

Plots are aggregates, tables are capped and the output is a pure function of its inputs (the only
time shown is ``created_at``), so two runs over the same scores give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any, Final

from ops.evaluation.html_diff import diff_markup
from ops.evaluation.html_svg import bar_chart_svg, histogram_svg, scatter_points, scatter_svg
from ops.evaluation.html_tables import (
    DASH,
    FORMATS,
    count_cell,
    group_cell,
    html_table,
    is_number,
    metric_columns,
    rate_cell,
    record_table,
    text_cell,
)

MAX_TEXT_CHARS: Final = 4000
MAX_WORST_PAGES: Final = 100
MAX_FAILURES: Final = 50
MAX_MOVERS: Final = 20
MAX_BAR_GROUPS: Final = 40
MAX_SHARDS_LISTED: Final = 50

CSS: Final = """
body{font:14px/1.45 system-ui,sans-serif;color:#222;max-width:1280px;margin:0 auto;
padding:0 24px 48px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;border-bottom:1px solid #ddd;
padding-bottom:4px;margin-top:32px}h3{font-size:15px;margin:4px 0}
nav a{margin-right:12px}table{border-collapse:collapse;margin:8px 0}
th,td{padding:3px 8px;border-bottom:1px solid #e5e5e5;text-align:left;vertical-align:top}
th{background:#f5f5f5}.n{text-align:right;font-variant-numeric:tabular-nums}
.meta,.note{color:#555;font-size:13px}.warn{background:#fff4e5;border-left:4px solid #e07b39;
padding:6px 10px;margin:8px 0}.bad{color:#b00020;font-weight:600}
.page{border-top:1px solid #ddd;margin-top:20px;padding-top:8px}
.page img{max-width:100%;max-height:900px;border:1px solid #ddd;display:block;margin:8px 0}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:12px}h4{margin:4px 0;font-size:13px}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#fafafa;border:1px solid #e5e5e5;
padding:8px;margin:0;max-height:520px;overflow:auto;font-size:12px}
ins{background:#ffd8a8;text-decoration:none}del{background:#f7c6c6;text-decoration:none}
code{font-size:12px;overflow-wrap:anywhere}svg.plot{max-width:100%;height:auto;display:block}
"""
HEADLINE_KEYS: Final = ("output", "pages", "cer", "wer", "ned", "bow_precision", "bow_recall")
HEADLINE_KEYS_2: Final = ("bow_f1", "cer_p50", "cer_p90", "cer_macro", "pages_empty_truth")
GROUP_KEYS: Final = ("pages", "cer", "wer", "ned", "bow_f1", "cer_p50", "cer_p90", "cer_macro")
# (header, key, format) of each output's columns in the bench's categories table
BENCH_CATEGORY_COLUMNS: Final = (
    ("passed", "passed", "count"),
    ("tests", "total", "count"),
    ("pass rate", "rate", "rate1"),
)
MICRO_MACRO_NOTE: Final = (
    "CER (micro, the headline) is all character edits divided by all truth characters, over the "
    "pages with non-empty truth: long pages weigh more, like reading the whole corpus. CER macro "
    "is the mean of per-page CERs: every page counts once, so many short bad pages show there. "
    "p50/p90 are per-page CER percentiles. WER and bag-of-words leave out unspaced scripts; pages "
    "with empty truth are counted apart, with the characters the output invented on them."
)


def render_report(
    summary: dict,
    worst_pages: list[dict],
    cer_values: dict[str, list[float]],
    compare_pages: list[dict] | None = None,
    images: dict[str, str] | None = None,
) -> str:
    """The whole ``index.html`` as one string. A section with nothing to show (no comparison, no
    bench, no group-by) is left out, together with its link in the page's navigation; ``images``
    holds ``data:image/...`` URLs by worst-page id, and anything else in it is ignored."""
    labels = _labels(summary, cer_values)
    sections = [
        ("coverage", "Coverage", _coverage(summary)),
        ("headline", "Scores", _headline(summary)),
        ("bench", "olmOCR-bench", _bench(summary.get("bench"))),
        ("compare", "Comparison", _compare(summary.get("compare"), compare_pages, labels)),
        ("groups", "Scores by group", _groups(summary.get("by") or {}, labels)),
        ("distributions", "CER distribution", _distribution(cer_values, labels)),
        ("documents", "Worst documents", _worst_documents(summary.get("documents_worst"))),
        ("worst-pages", "Worst pages", _worst_pages(worst_pages, images or {})),
    ]
    present = [(key, title, body) for key, title, body in sections if body is not None]
    nav = "".join(f'<a href="#{key}">{title}</a>' for key, title, _ in present)
    body = "".join(f'<section id="{k}"><h2>{t}</h2>{b}</section>' for k, t, b in present)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>pagemill evaluation</title><style>{CSS}</style></head><body>"
        f'<header id="overview">{_overview(summary)}</header><nav>{nav}</nav>{body}'
        f'<footer class="note"><p>pagemill_eval format {text_cell(summary.get("pagemill_eval"))}'
        "</p></footer></body></html>\n"
    )


def _labels(summary: Mapping[str, Any], cer_values: Mapping[str, Any]) -> list[str]:
    """Output labels in the summary's order, so each output keeps its colour in every plot."""
    labels = [str(label) for label in summary.get("outputs") or {}]
    return labels + [label for label in cer_values if label not in labels]


# --- sections ---------------------------------------------------------------------------------


def _overview(summary: Mapping[str, Any]) -> str:
    truth = summary.get("truth") or {}
    outputs = "".join(
        f"<tr><th>{text_cell(label)}</th><td><code>{text_cell(path)}</code></td></tr>"
        for label, path in (summary.get("outputs") or {}).items()
    )
    settings = ", ".join(
        f"{escape(str(key))}={escape(json.dumps(value, sort_keys=True))}"
        for key, value in sorted((summary.get("settings") or {}).items())
    )
    return (
        "<h1>OCR evaluation</h1>"
        f'<p class="meta">Created {text_cell(summary.get("created_at"))} · truth: '
        f"{text_cell(truth.get('format'))}, {text_cell(truth.get('description'))} "
        f"({count_cell(truth.get('entries'))} entries) · normalisation "
        f"{text_cell(summary.get('normalization'))}, "
        f"NED {text_cell(summary.get('ned_normalization'))}"
        f'</p><table class="outputs"><tbody>{outputs}</tbody></table>'
        f'<p class="meta">Settings: {settings or DASH}</p>'
    )


COVERAGE_ROWS: Final = (
    ("scored_pages", "scored pages"),
    ("rows", "rows read"),
    ("superseded_rows", "superseded rows skipped (not yet reconciled)"),
    ("sampled_out", "left out by sampling"),
    ("error_rows", "error rows (counted, never scored)"),
    ("error_rows_with_truth", "error rows that have truth"),
    ("no_truth", "rows without truth"),
    ("truth_missing_from_output", "truth entries missing from the output"),
    ("documents_incomplete", "documents incomplete"),
    ("shards", "shards"),
    ("unreadable_shards", "unreadable shards"),
)
# What a non-zero count of these means, shown as a warning under the coverage table.
WARNINGS: Final = {
    "truth_missing_from_output": "truth entries have no page in the output: not scored",
    "documents_incomplete": "documents are incomplete in the output",
}
PROBLEMS: Final = {"error_rows", "unreadable_shards", *WARNINGS}


def _coverage(summary: Mapping[str, Any]) -> str:
    """Counts of what was and was not scored, with every problem spelled out: a CER over 90 % of
    the pages means little if the other 10 % were unreadable shards."""
    coverage: Mapping[str, Mapping[str, Any]] = summary.get("coverage") or {}
    if not coverage:
        return '<p class="note">No coverage recorded.</p>'
    rows = []
    for key, title in COVERAGE_ROWS:
        cells = []
        for counts in coverage.values():
            value = counts.get(key)
            value = len(value) if isinstance(value, list) else value
            cell = count_cell(value)
            cells.append(
                f'<span class="bad">{cell}</span>'
                if key in PROBLEMS and is_number(value) and value > 0
                else cell
            )
        rows.append([title, *cells])
    table = html_table(["", *(text_cell(label) for label in coverage)], rows, 1)
    warnings = (w for label, counts in coverage.items() for w in _warnings(str(label), counts))
    return table + "".join(warnings)


def _warnings(label: str, counts: Mapping[str, Any]) -> Iterable[str]:
    shards = counts.get("unreadable_shards") or []
    if shards:
        items = "".join(
            f"<li><code>{text_cell(s.get('shard'))}</code>: {text_cell(s.get('reason'))}</li>"
            for s in shards[:MAX_SHARDS_LISTED]
        )
        more = len(shards) - MAX_SHARDS_LISTED
        items += f"<li>… {more:,} more</li>" if more > 0 else ""
        yield (
            f'<div class="warn"><strong>{escape(label)}: {len(shards):,} unreadable '
            f"shard(s)</strong>; their pages are in no score.<ul>{items}</ul></div>"
        )
    for key, meaning in WARNINGS.items():
        value = counts.get(key)
        if is_number(value) and value > 0:
            yield f'<div class="warn"><strong>{escape(label)}: {value:,} {meaning}</strong></div>'
    errors = counts.get("error_rows")
    if is_number(errors) and errors > 0:
        yield (
            f'<p class="note">{escape(label)}: {errors:,} error rows '
            f"({count_cell(counts.get('error_rows_with_truth'))} with truth) are counted here and "
            "left out of the scores.</p>"
        )


def _headline(summary: Mapping[str, Any]) -> str:
    rows = summary.get("overall") or []
    if not rows:
        return '<p class="note">No page was scored.</p>'
    table = record_table(
        rows, metric_columns(*HEADLINE_KEYS, *HEADLINE_KEYS_2, "hallucinated_chars")
    )
    return table + f'<p class="note">{MICRO_MACRO_NOTE}</p>'


def _groups(by: Mapping[str, Sequence[Mapping[str, Any]]], labels: Sequence[str]) -> str | None:
    if not by:
        return None
    parts = []
    for dimension, rows in by.items():
        group = (str(dimension), str(dimension), "group")
        table = record_table(rows, [*metric_columns("output"), group, *metric_columns(*GROUP_KEYS)])
        parts.append(f"<h3>By {escape(str(dimension))}</h3>{table}")
        parts.append(_group_chart(str(dimension), rows, labels))
    return "".join(parts)


def _group_chart(dimension: str, rows: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> str:
    """Micro CER per group as bars; with many groups, the ones holding the most pages."""
    pages: dict[str, int] = {}
    cer: dict[tuple[str, str], float | None] = {}
    for row in rows:
        group = group_cell(row.get(dimension))
        count = row.get("pages")
        pages[group] = pages.get(group, 0) + (count if is_number(count) else 0)
        cer[(str(row.get("output")), group)] = row.get("cer")
    groups = list(pages)
    note = ""
    if len(groups) > MAX_BAR_GROUPS:
        largest = set(sorted(groups, key=lambda g: (-pages[g], g))[:MAX_BAR_GROUPS])
        groups = [g for g in groups if g in largest]
        note = (
            f'<p class="note">The {MAX_BAR_GROUPS} groups with the most pages of {len(pages)}.</p>'
        )
    outputs = [*labels, *sorted({o for o, _ in cer if o not in labels})]  # colours as elsewhere
    series = {label: [cer.get((label, g)) for g in groups] for label in outputs}
    return bar_chart_svg(groups, series, f"CER (micro) by {dimension}") + note


def _distribution(cer_values: Mapping[str, Sequence[float]], labels: Sequence[str]) -> str:
    series = {label: cer_values[label] for label in labels if label in cer_values}
    if not any(series.values()):
        return '<p class="note">No scored pages.</p>'
    return histogram_svg(series) + (
        '<p class="note">Share of each output\'s scored pages per CER bin of 0.05; the last bar '
        "holds pages with CER above 1 (output much longer than the truth).</p>"
    )


def _worst_documents(rows: Sequence[Mapping[str, Any]] | None) -> str | None:
    if not rows:
        return None
    keys = ("output", "source_uri", "pages", "cer", "wer", "ned", "bow_f1")
    return record_table(rows, metric_columns(*keys))


# --- worst pages ------------------------------------------------------------------------------


def _worst_pages(pages: Sequence[Mapping[str, Any]], images: Mapping[str, str]) -> str | None:
    if not pages:
        return None
    intro = (
        '<p class="note">Output and truth side by side. Highlighted: in the output, words the '
        "truth does not have (<ins>like this</ins>); in the truth, words the output lacks "
        "(<del>like this</del>); short substitutions are refined to their characters. The "
        "highlight compares the raw texts, the CER their normalised forms.</p>"
    )
    shown = pages[:MAX_WORST_PAGES]
    more = len(pages) - len(shown)
    tail = f'<p class="note">… {more:,} more pages not shown.</p>' if more > 0 else ""
    return intro + "".join(_worst_page(i, p, images) for i, p in enumerate(shown)) + tail


def _worst_page(index: int, page: Mapping[str, Any], images: Mapping[str, str]) -> str:
    output, truth = _clip(page.get("text")), _clip(page.get("truth"))
    output_html, truth_html = diff_markup(output, truth)
    image = images.get(str(page.get("id")), "")
    figure = ""
    if image.startswith("data:image/"):  # never a URL: the page must open offline
        figure = f'<img alt="page image" loading="lazy" src="{escape(image)}">'
    return (
        f'<div class="page" id="page-{index + 1}"><h3>{index + 1}. '
        f"<code>{text_cell(page.get('source_uri'))}</code>, {_where(page.get('page_number'))}"
        f'</h3><p class="meta">CER <strong>{rate_cell(page.get("cer"))}</strong> '
        f"({count_cell(page.get('char_edits'))} edits / "
        f"{count_cell(page.get('truth_chars'))} truth chars)"
        f" · output {text_cell(page.get('output'))} · route {text_cell(page.get('route'))} "
        "· backend "
        f'{text_cell(page.get("backend"))}</p>{figure}<div class="cols"><div><h4>Output</h4>'
        f"<pre>{output_html}</pre></div><div><h4>Truth</h4><pre>{truth_html}</pre></div></div></div>"
    )


def _where(page_number: Any) -> str:
    return "whole document" if page_number is None else f"page {text_cell(page_number)}"


def _clip(text: Any) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + " …"


# --- comparison and bench ---------------------------------------------------------------------


def _compare(
    compare: Mapping[str, Any] | None,
    pages: Sequence[Mapping[str, Any]] | None,
    labels: Sequence[str],
) -> str | None:
    if compare is None and not pages:
        return None
    a, b = [*(str(x) for x in (compare or {}).get("labels") or labels), "A", "B"][:2]
    parts = []
    if compare is not None:
        parts.append(_compare_table(compare, a, b))
    if pages:
        points = scatter_points([(p.get("cer_a"), p.get("cer_b")) for p in pages])
        parts.append(scatter_svg(points, a, b))
        parts.append(
            f'<p class="note">Page CER of {escape(a)} against {escape(b)}: {len(points):,} of '
            f"{len(pages):,} pages drawn (an even stride), CER capped at 1.</p>"
        )
        parts.append(_movers(pages, a, b))
    return "".join(parts)


def _compare_table(compare: Mapping[str, Any], a: str, b: str) -> str:
    rows = [
        ("pages compared", "pages", "count"),
        (f"{a} better", "a_better", "count"),
        (f"{b} better", "b_better", "count"),
        ("ties", "ties", "count"),
        (f"CER {a}", "cer_a", "strong"),
        (f"CER {b}", "cer_b", "strong"),
        (f"median page CER change ({b} − {a})", "median_delta", "points"),
    ]
    cells = [[escape(title), FORMATS[kind](compare.get(key))] for title, key, kind in rows]
    return html_table(["", ""], cells, 1)


def _movers(pages: Sequence[Mapping[str, Any]], a: str, b: str) -> str:
    """The pages where the two outputs differ most, each way: where to look for what changed."""
    rows = [
        {**p, "delta": p["cer_b"] - p["cer_a"]}
        for p in pages
        if is_number(p.get("cer_a")) and is_number(p.get("cer_b"))
    ]
    rows.sort(key=lambda r: (r["delta"], str(r.get("source_uri")), r.get("page_number") or 0))
    columns = [
        ("source", "source_uri", "code"),
        ("page", "page_number", "page"),
        (f"CER {a}", "cer_a", "rate"),
        (f"CER {b}", "cer_b", "rate"),
        (f"change ({b} − {a})", "delta", "points"),
    ]
    b_better = [r for r in rows if r["delta"] < 0][:MAX_MOVERS]
    a_better = [r for r in reversed(rows) if r["delta"] > 0][:MAX_MOVERS]
    return "".join(
        f"<h3>Largest changes: {escape(name)} better</h3>"
        + (record_table(chosen, columns) if chosen else '<p class="note">None.</p>')
        for name, chosen in ((b, b_better), (a, a_better))
    )


def _bench(benches: Mapping[str, Any] | None) -> str | None:
    """``benches`` holds one bench result per output label. A single output reads without labels;
    several share one categories table, so a category's rates sit side by side."""
    results = [(str(label), bench) for label, bench in (benches or {}).items() if bench]
    if not results:
        return None
    many = len(results) > 1
    headlines = "".join(
        f"<p>{f'<strong>{escape(label)}</strong>: pass' if many else 'Pass'} rate "
        f"<strong>{rate_cell(bench.get('overall'), 1)}</strong> "
        f"(CI {rate_cell(bench.get('ci_low'), 1)} "
        f"– {rate_cell(bench.get('ci_high'), 1)}) over {count_cell(bench.get('tests'))} tests.</p>"
        for label, bench in results
    )
    # One row per category, with (passed, tests, rate) per output under keys "i/passed"...: a
    # category an output lacks has no keys there, and its cells read "—".
    rows: dict[str, dict[str, Any]] = {}
    for i, (_, bench) in enumerate(results):
        for category in bench.get("categories") or []:
            row = rows.setdefault(str(category.get("name")), {"name": category.get("name")})
            row.update({f"{i}/{k}": category.get(k) for _, k, _ in BENCH_CATEGORY_COLUMNS})
    categories = [("category", "name", "text")] + [
        (f"{label} {header}" if many else header, f"{i}/{key}", kind)
        for i, (label, _) in enumerate(results)
        for header, key, kind in BENCH_CATEGORY_COLUMNS
    ]
    return (
        headlines
        + record_table([rows[name] for name in sorted(rows)], categories)
        + "".join(_bench_failures(bench, label if many else None) for label, bench in results)
    )


def _bench_failures(bench: Mapping[str, Any], label: str | None) -> str:
    """summary.json keeps only the first failures, so the count shown is ``failures_total``."""
    failures = bench.get("failures") or []
    shown = failures[:MAX_FAILURES]
    total = bench.get("failures_total")
    total = total if is_number(total) else len(failures)
    title = f"first {len(shown)} of {total:,}" if total > len(shown) else "all"
    of = f" of {escape(label)}" if label is not None else ""
    columns = [
        (header, header if header != "test" else "id", "text")
        for header in ("test", "type", "category", "pdf", "page", "explanation")
    ]
    return f"<h3>Failures{of} ({title})</h3>" + (
        record_table(shown, columns) if shown else '<p class="note">None.</p>'
    )
