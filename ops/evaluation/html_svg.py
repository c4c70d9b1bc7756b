"""Inline SVG plots for the evaluation report: a CER histogram, a grouped bar chart, a scatter.

The report is one file opened from disk, so plots cannot come from a plotting library's JS or
from image files: they are drawn here as plain SVG markup. Every plot is an aggregate (histogram
bins, one bar per group, a capped number of scatter dots), so its size does not grow with the
number of pages scored. Coordinates are rounded to 0.1 px, which is invisible and keeps the
markup short. An inline ``<svg>`` needs no ``xmlns`` inside an HTML5 document, so the plots hold
no URL at all.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape
from typing import Final

import numpy as np

PALETTE: Final = ("#3b6fb6", "#e07b39", "#4a9a5b", "#9467bd", "#8c564b")
HISTOGRAM_BINS: Final = 20
OVERFLOW_GAP: Final = 0.8  # empty slots between the [0, 1] bins and the CER > 1 bin
SCATTER_CAP: Final = 5000
# (most pages sharing one pixel, opacity of its dot)
DENSITY: Final = ((1, 0.3), (3, 0.5), (10, 0.75), (math.inf, 1.0))
FONT: Final = 'font-family="system-ui,sans-serif" font-size="11"'


def color(index: int) -> str:
    """The colour of the index-th output, the same in every plot of the page."""
    return PALETTE[index % len(PALETTE)]


def _n(value: float) -> str:
    """A coordinate with at most one decimal: ``12``, ``12.5``."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _percent(value: float, digits: int = 1) -> str:
    return f"{value * 100:.{digits}f}%"


def _tick(value: float) -> str:
    """A tick label as a percentage without trailing zeros: ``2.5%``, ``10%``."""
    return f"{round(value * 100, 6):g}%"


def _svg(width: int, height: int) -> str:
    return (
        f'<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" {FONT}>'
    )


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= value, so the axis ends on a
    round number (1.0 for nothing to show)."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10.0 * power


def axis_ticks(maximum: float) -> list[float]:
    """Ticks from 0 to a :func:`nice_ceiling` value at round steps: 4 intervals for a leading
    1 or 2 (0.25 / 0.5 steps), 5 for 2.5 or 5 (0.5 / 1 steps)."""
    leading = maximum / 10.0 ** math.floor(math.log10(maximum))
    intervals = 4 if round(leading, 6) in (1.0, 2.0) else 5
    return [maximum * i / intervals for i in range(intervals + 1)]


def histogram_counts(values: Sequence[float | None], bins: int = HISTOGRAM_BINS) -> list[int]:
    """Counts of ``bins`` equal bins over [0, 1] plus one overflow bin for CER > 1 (an output
    longer than its truth can exceed 1, and those pages must stay visible rather than be clipped
    into the last bin). 1.0 itself belongs to the last regular bin; None and NaN are skipped."""
    array = np.asarray([v for v in values if v is not None], dtype=np.float64)
    array = array[~np.isnan(array)]
    overflow = array > 1.0
    inside = np.clip(array[~overflow], 0.0, 1.0)
    index = np.minimum(np.floor(inside * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins).tolist()
    return [*counts, int(overflow.sum())]


def _legend(labels: Sequence[str], x: float, y: float) -> list[str]:
    parts = []
    for i, label in enumerate(labels):
        left = x + i * 170
        parts.append(
            f'<rect x="{_n(left)}" y="{_n(y - 9)}" width="10" height="10" fill="{color(i)}"/>'
        )
        parts.append(f'<text x="{_n(left + 14)}" y="{_n(y)}">{escape(label)}</text>')
    return parts


def histogram_svg(series: Mapping[str, Sequence[float | None]], bins: int = HISTOGRAM_BINS) -> str:
    """Per-output CER histograms side by side within each bin. The y axis is the share of each
    output's pages, so two outputs with different page counts compare fairly."""
    width, height, left, top = 680, 250, 52, 26
    plot_w, plot_h = width - left - 12, height - top - 42
    counts = {label: histogram_counts(values, bins) for label, values in series.items()}
    shares = {label: [c / max(sum(cs), 1) for c in cs] for label, cs in counts.items()}
    y_max = nice_ceiling(max((s for ss in shares.values() for s in ss), default=0.0))
    slot = plot_w / (bins + 1 + OVERFLOW_GAP)
    bar_w = slot * 0.9 / max(len(series), 1)
    base = top + plot_h
    parts = [_svg(width, height)]
    for value in axis_ticks(y_max):
        y = base - plot_h * value / y_max
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{_n(y)}" y2="{_n(y)}" stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{left - 4}" y="{_n(y + 4)}" text-anchor="end">{_tick(value)}</text>'
        )
    for k, (label, share_list) in enumerate(shares.items()):
        for i, share in enumerate(share_list):
            if not counts[label][i]:
                continue
            bar_h = plot_h * share / y_max
            x = left + (i + (OVERFLOW_GAP if i == bins else 0) + 0.05) * slot + k * bar_w
            span = "&gt; 1" if i == bins else f"{i / bins:g}–{(i + 1) / bins:g}"
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(base - bar_h)}" width="{_n(bar_w)}" '
                f'height="{_n(bar_h)}" fill="{color(k)}"><title>{escape(label)}: CER {span}: '
                f"{counts[label][i]:,} pages ({_percent(share)})</title></rect>"
            )
    for tick in range(6):
        parts.append(
            f'<text x="{_n(left + tick / 5 * bins * slot)}" y="{base + 14}" '
            f'text-anchor="middle">{tick / 5:g}</text>'
        )
    parts += [
        f'<text x="{_n(left + (bins + OVERFLOW_GAP + 0.5) * slot)}" y="{base + 14}" '
        'text-anchor="middle">&gt;1</text>',
        f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" stroke="#555"/>',
        f'<text x="{_n(left + plot_w / 2)}" y="{height - 6}" text-anchor="middle">'
        "CER of a page</text>",
        f'<text transform="translate(12 {_n(top + plot_h / 2)}) rotate(-90)" '
        'text-anchor="middle">share of pages</text>',
        *_legend([f"{label} (n={sum(cs):,})" for label, cs in counts.items()], left, 14),
        "</svg>",
    ]
    return "".join(parts)


def bar_chart_svg(
    groups: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    axis_label: str = "CER (micro)",
) -> str:
    """Horizontal bars, one per group and output, so long group names stay readable. A missing
    value (no scoreable page in the group) gets no bar and a dash."""
    label_w, bar_area, top, bar_h, gap = 190, 400, 24, 13, 7
    n_series = max(len(series), 1)
    width, height = label_w + bar_area + 64, top + len(groups) * (n_series * bar_h + gap) + 34
    values = [v for vs in series.values() for v in vs if v is not None and math.isfinite(v)]
    x_max = nice_ceiling(max(values, default=0.0))
    parts = [_svg(width, height), *_legend(list(series), label_w, 14)]
    for g, group in enumerate(groups):
        y0 = top + g * (n_series * bar_h + gap)
        short = group if len(group) <= 30 else group[:29] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{_n(y0 + n_series * bar_h / 2 + 4)}" '
            f'text-anchor="end"><title>{escape(group)}</title>{escape(short)}</text>'
        )
        for k, (label, vs) in enumerate(series.items()):
            value = vs[g] if g < len(vs) else None
            y = y0 + k * bar_h
            if value is None or not math.isfinite(value):
                parts.append(f'<text x="{label_w + 4}" y="{_n(y + bar_h - 3)}">—</text>')
                continue
            w = bar_area * value / x_max
            parts.append(
                f'<rect x="{label_w}" y="{_n(y + 1)}" width="{_n(w)}" height="{bar_h - 2}" '
                f'fill="{color(k)}"><title>{escape(label)} / {escape(group)}: '
                f"{_percent(value, 2)}</title></rect>"
                f'<text x="{_n(label_w + w + 4)}" y="{_n(y + bar_h - 3)}">{_percent(value)}</text>'
            )
    axis_y = height - 30
    parts.append(
        f'<line x1="{label_w}" x2="{label_w + bar_area}" y1="{axis_y}" y2="{axis_y}" '
        'stroke="#555"/>'
    )
    for value in axis_ticks(x_max):
        parts.append(
            f'<text x="{_n(label_w + bar_area * value / x_max)}" y="{axis_y + 13}" '
            f'text-anchor="middle">{_tick(value)}</text>'
        )
    parts.append(
        f'<text x="{label_w + bar_area // 2}" y="{height - 4}" text-anchor="middle">'
        f"{escape(axis_label)}</text></svg>"
    )
    return "".join(parts)


def scatter_points(
    pairs: Sequence[tuple[float | None, float | None]], cap: int = SCATTER_CAP
) -> list[tuple[float, float]]:
    """The pairs with both values, clipped to 1.0 and thinned to at most ``cap`` by an even stride
    over the given order: the same input always gives the same points, and the kept points
    follow the full set's distribution."""
    kept = [
        (min(a, 1.0), min(b, 1.0))
        for a, b in pairs
        if a is not None and b is not None and not (math.isnan(a) or math.isnan(b))
    ]
    if len(kept) <= cap:
        return kept
    return [kept[i * len(kept) // cap] for i in range(cap)]


def _dot_paths(points: Sequence[tuple[float, float]], left: int, top: int, size: int) -> list[str]:
    """The points snapped to whole pixels, one dot per occupied pixel, darker where more pages
    share it: a single path cannot darken its own overlaps, and pages pile up near CER 0, so this
    keeps the density visible at about 9 bytes per distinct dot (a zero-length line with round
    caps)."""
    cells = Counter((round(left + a * size), round(top + size - b * size)) for a, b in points)
    levels: dict[int, list[str]] = {}
    for (x, y), pages in sorted(cells.items()):
        level = next(i for i, (most, _) in enumerate(DENSITY) if pages <= most)
        levels.setdefault(level, []).append(f"M{x} {y}h0")
    return [
        f'<path d="{"".join(dots)}" stroke="{color(0)}" stroke-opacity="{DENSITY[level][1]}" '
        'stroke-width="2.6" stroke-linecap="round"/>'
        for level, dots in sorted(levels.items())
    ]


def scatter_svg(points: Sequence[tuple[float, float]], label_a: str, label_b: str) -> str:
    """CER of A (x) against CER of B (y) for each page, with the diagonal of equal CER: points
    below it are pages where B did better.

    Both axes end at the round number just above the largest CER drawn (not always at 1): good
    outputs put nearly every page under a few percent, which on a 0-1 axis all land in the
    corner pixel, one dot."""
    size, left, top = 340, 50, 12
    width, height = left + size + 14, top + size + 40
    maximum = nice_ceiling(max((max(a, b) for a, b in points), default=0.0))
    parts = [
        _svg(width, height),
        f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#555"/>',
        f'<line x1="{left}" y1="{top + size}" x2="{left + size}" y2="{top}" stroke="#999" '
        'stroke-dasharray="4 3"/>',
    ]
    for tick in axis_ticks(maximum):
        offset = size * tick / maximum
        parts.append(
            f'<text x="{_n(left + offset)}" y="{top + size + 14}" '
            f'text-anchor="middle">{_tick(tick)}</text>'
        )
        parts.append(
            f'<text x="{left - 4}" y="{_n(top + size - offset + 4)}" '
            f'text-anchor="end">{_tick(tick)}</text>'
        )
    points = [(a / maximum, b / maximum) for a, b in points]
    a, b = escape(label_a), escape(label_b)
    parts += [
        *_dot_paths(points, left, top, size),
        f'<text x="{left + size - 6}" y="{top + size - 8}" text-anchor="end" fill="#777">'
        f"{b} better</text>",
        f'<text x="{left + 6}" y="{top + 14}" fill="#777">{a} better</text>',
        f'<text x="{left + size // 2}" y="{height - 6}" text-anchor="middle">CER {a}</text>',
        f'<text transform="translate(12 {top + size // 2}) rotate(-90)" text-anchor="middle">'
        f"CER {b}</text></svg>",
    ]
    return "".join(parts)
