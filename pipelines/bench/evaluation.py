"""The ``eval`` part of ``pagemill bench``: scored pages per second of ``pagemill eval``.

A synthetic output of ``pages`` pages of ~3,000 characters (English-like words, ~3 % character
edits against the truth) is written as pagemill writes OCR-route pages (1,000-row shards), and
again as 10-row shards (what many small text-route batches and reruns leave), with page-level
truth as a folder of text files and as a Parquet table. The baseline is a plain single-process
loop of :func:`ops.metrics.text.score_page` over the same pairs, measured in the same run. Ray is
started before the timings (its start-up, ~3 s here, is a fixed cost of any ``pagemill eval``).
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

PAGE_CHARS = 3000
ROWS_PER_SHARD = 1000
SMALL_SHARD_ROWS = 10
_VOCABULARY = (
    "the of and to in is that for it as was with be by on not he this are or his from at which "
    "but have an they you were her she there been one all we their has would when if so no will "
    "page text report table figure section results method data model value system number time"
)
WORDS = tuple(_VOCABULARY.split())


def eval_route(work: Path, pages: int, num_cpus: int | None) -> dict[str, Any]:
    from pipelines.bench import _start_ray
    from pipelines.evaluation import EvalConfig, evaluate

    root = work / "eval-corpus"
    pairs = _write_corpus(root, pages)
    cpus = _start_ray(num_cpus)
    baseline = _baseline(pairs)
    results: dict[str, Any] = {
        "corpus": f"{pages} pages of ~{PAGE_CHARS} chars in {pages // ROWS_PER_SHARD} shards",
        "cluster_cpus": cpus,
        "baseline_pages_per_s": round(baseline, 1),
    }
    runs = {
        "folder_truth": ("out", "truth"),
        "table_truth": ("out", "truth.parquet"),
        f"table_truth_{SMALL_SHARD_ROWS}_row_shards": ("out-small", "truth.parquet"),
    }
    for name, (output, truth) in runs.items():
        config = EvalConfig(
            outputs=(str(root / output),),
            truth=str(root / truth),
            report=str(work / f"eval-report-{name}"),
            progress=False,
        )
        began = time.perf_counter()
        result = evaluate(config)
        seconds = time.perf_counter() - began
        scored = result.summary["overall"][0]["pages"]
        results[name] = {
            "pages_scored": scored,
            "wall_s": round(seconds, 2),
            "pages_per_s": round(scored / seconds, 1),
            "ratio_vs_baseline": round(scored / seconds / baseline, 3),
            "cer": result.summary["overall"][0]["cer"],
            "phases_s": result.summary["timings_s"],
        }
    return results


def _baseline(pairs: list[tuple[str, str]]) -> float:
    from ops.metrics.text import score_page

    sample = pairs[: min(len(pairs), 3000)]
    began = time.perf_counter()
    for truth, output in sample:
        score_page(truth, output)
    return len(sample) / (time.perf_counter() - began)


def _write_corpus(root: Path, pages: int) -> list[tuple[str, str]]:
    from ops.schema import PAGE_SCHEMA, to_table

    if root.exists():
        shutil.rmtree(root)
    (root / "out" / "pages").mkdir(parents=True)
    (root / "truth").mkdir()
    generator = random.Random(1234)
    pairs, rows, truth_rows = [], [], []
    for index in range(pages):
        document, page = divmod(index, 10)
        truth = _page(generator)
        output = _garble(truth, generator)
        pairs.append((truth, output))
        name = f"doc{document:06d}"
        folder = root / "truth" / name
        folder.mkdir(exist_ok=True)
        (folder / f"{page + 1:04d}.txt").write_text(truth)
        truth_rows.append({"source": f"{name}.pdf", "page_number": page + 1, "text": truth})
        rows.append(
            {
                "doc_id": name,
                "source_uri": f"/corpus/{name}.pdf",
                "source_kind": "pdf",
                "page_index": page,
                "page_number": page + 1,
                "page_count": 10,
                "route": "ocr",
                "backend": "tesseract",
                "status": "ok",
                "text": output,
            }
        )
        if len(rows) == ROWS_PER_SHARD:
            _flush(rows, root, to_table, PAGE_SCHEMA)
    if rows:
        _flush(rows, root, to_table, PAGE_SCHEMA)
    pq.write_table(pa.Table.from_pylist(truth_rows), root / "truth.parquet")
    _reshard(root / "out" / "pages", root / "out-small" / "pages", SMALL_SHARD_ROWS)
    return pairs


def _reshard(source: Path, target: Path, rows: int) -> None:
    target.mkdir(parents=True)
    table = pa.concat_tables(pq.read_table(path) for path in sorted(source.glob("*.parquet")))
    for index, start in enumerate(range(0, table.num_rows, rows)):
        pq.write_table(table.slice(start, rows), target / f"part-{index:05d}.parquet")


def _flush(rows: list[dict[str, Any]], root: Path, to_table: Any, schema: pa.Schema) -> None:
    shard = root / "out" / "pages" / f"part-{len(list((root / 'out' / 'pages').iterdir())):05d}"
    pq.write_table(to_table(rows, schema), f"{shard}.parquet")
    rows.clear()


def _page(generator: random.Random) -> str:
    lines, length = [], 0
    while length < PAGE_CHARS:
        line = " ".join(generator.choice(WORDS) for _ in range(generator.randint(8, 14)))
        lines.append(line.capitalize() + ".")
        length += len(line) + 2
    return "\n".join(lines)[:PAGE_CHARS]


def _garble(text: str, generator: random.Random, rate: float = 0.03) -> str:
    characters = list(text)
    for _ in range(int(len(characters) * rate)):
        position = generator.randrange(len(characters))
        characters[position] = generator.choice("abcdefghijklmnopqrstuvwxyz ")
    return "".join(characters)
