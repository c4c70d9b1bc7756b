"""What a run cost, in the units users compare tools by: core-hours and GPU-hours per million
pages, and money per million pages at the user's prices.

Measured, not estimated: CPU time is what the stages' worker processes spent on their batches
(``time.process_time`` around each batch, :func:`pipelines.progress.timed`), GPU time what the
engine pool held for the graph's whole run (an idle GPU costs the same). Per route, the pages'
own ``latency_ms`` (a page holds one core while it is read) splits the cost between the text
route and the OCR route.
"""

from __future__ import annotations

from typing import Any

MILLION = 1_000_000


def cost_figures(
    stages: dict[str, dict[str, float]],
    gpu_seconds: float,
    pages: int,
    route_pages: dict[str, int],
    route_seconds: dict[str, float],
    price_per_core_hour: float | None = None,
    price_per_gpu_hour: float | None = None,
) -> dict[str, Any]:
    cpu_seconds = sum(stage.get("cpu_s", 0.0) for stage in stages.values())
    figures: dict[str, Any] = {
        "cpu_core_hours": round(cpu_seconds / 3600, 6),
        "gpu_hours": round(gpu_seconds / 3600, 6),
        "pages": pages,
    }
    if not pages:
        return figures
    core_per_million = cpu_seconds / 3600 / pages * MILLION
    gpu_per_million = gpu_seconds / 3600 / pages * MILLION
    figures["core_hours_per_million_pages"] = round(core_per_million, 3)
    figures["gpu_hours_per_million_pages"] = round(gpu_per_million, 3)
    figures["by_route"] = {
        route: {
            "pages": count,
            "core_hours_per_million_pages": round(
                route_seconds.get(route, 0.0) / 3600 / count * MILLION, 3
            ),
        }
        for route, count in sorted(route_pages.items())
        if count
    }
    if price_per_core_hour is not None or price_per_gpu_hour is not None:
        money = core_per_million * (price_per_core_hour or 0.0)
        money += gpu_per_million * (price_per_gpu_hour or 0.0)
        figures["price_per_million_pages"] = round(money, 2)
        figures["prices"] = {"core_hour": price_per_core_hour, "gpu_hour": price_per_gpu_hour}
    return figures


def describe(figures: dict[str, Any]) -> list[tuple[str, str]]:
    """Summary-table lines for the figures (none when the run read no page)."""
    if "core_hours_per_million_pages" not in figures:
        return []
    lines = [("CPU core-hours / 1M pages", f"{figures['core_hours_per_million_pages']:,.1f}")]
    if figures["gpu_hours"]:
        lines.append(("GPU-hours / 1M pages", f"{figures['gpu_hours_per_million_pages']:,.1f}"))
    for route, route_figures in figures.get("by_route", {}).items():
        lines.append((f"  {route} route", f"{route_figures['core_hours_per_million_pages']:,.1f}"))
    if "price_per_million_pages" in figures:
        lines.append(("price / 1M pages", f"{figures['price_per_million_pages']:,.2f}"))
    return lines


def priced(
    figures: dict[str, Any],
    price_per_core_hour: float | None = None,
    price_per_gpu_hour: float | None = None,
) -> dict[str, Any]:
    """The figures at other prices (``pagemill status --price-per-core-hour``): the prices given
    replace the run's own, the price per million pages follows; figures without pages stay."""
    if "core_hours_per_million_pages" not in figures:
        return figures
    prices = dict(figures.get("prices") or {})
    if price_per_core_hour is not None:
        prices["core_hour"] = price_per_core_hour
    if price_per_gpu_hour is not None:
        prices["gpu_hour"] = price_per_gpu_hour
    if prices.get("core_hour") is None and prices.get("gpu_hour") is None:
        return figures
    money = figures["core_hours_per_million_pages"] * (prices.get("core_hour") or 0.0)
    money += figures["gpu_hours_per_million_pages"] * (prices.get("gpu_hour") or 0.0)
    return {**figures, "prices": prices, "price_per_million_pages": round(money, 2)}


def combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One set of figures for several runs of an output (a job resumed twice costs what its
    three runs spent over the pages they read), without the per-route split."""
    cpu_hours = sum(run.get("cpu_core_hours", 0.0) for run in runs)
    gpu_hours = sum(run.get("gpu_hours", 0.0) for run in runs)
    pages = sum(run.get("pages", 0) for run in runs)
    figures: dict[str, Any] = {
        "cpu_core_hours": round(cpu_hours, 6),
        "gpu_hours": round(gpu_hours, 6),
        "pages": pages,
    }
    if pages:
        figures["core_hours_per_million_pages"] = round(cpu_hours / pages * MILLION, 3)
        figures["gpu_hours_per_million_pages"] = round(gpu_hours / pages * MILLION, 3)
    return figures
