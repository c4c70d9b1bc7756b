"""Hostile pages that only the pipeline's watchdog can stop, end to end on the local cluster.

Both strike inside ``FPDF_LoadPage``, where no ops code runs: a content stream that inflates to
hundreds of megabytes (stopped by the per-page memory ceiling, ``--page-memory``) and form
XObjects that fan out to 2^40 parses (pdfium's memory grows as it goes, so whichever of the
page deadline, ``--page-timeout``, and the ceiling is hit first stops it). Each becomes one error
row; the good document beside them comes out whole.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from pipelines import RunConfig, run
from tests import hostile_files as hostile

pytestmark = pytest.mark.usefixtures("ray_cluster")


def test_memory_and_time_bombs_inside_pdfium_become_error_rows(tmp_path: Path, samples: Path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(samples / "docs" / "mixed.pdf", inputs / "good.pdf")
    # 768 MB of NULs in 0.8 MB: without the ceiling this page costs ~1.5 GB of memory.
    (inputs / "bomb.pdf").write_bytes(hostile.content_bomb_pdf(768 << 20))
    (inputs / "fanout.pdf").write_bytes(hostile.form_cycle_pdf("fanout"))
    config = RunConfig(
        input=str(inputs),
        output=str(tmp_path / "out"),
        backend="fake",
        page_memory=256,
        page_timeout=2.0,
        max_attempts=1,
        progress=False,
    )
    result = run(config)

    rows = pads.dataset(tmp_path / "out" / "pages").to_table().to_pylist()
    pages = Counter((Path(row["source_uri"]).name, row["page_number"]) for row in rows)
    assert set(pages.values()) == {1}  # no duplicates
    by_name = {}
    for row in rows:
        by_name.setdefault(Path(row["source_uri"]).name, []).append(row)
    (bomb,) = by_name["bomb.pdf"]
    assert bomb["error_type"] == "out_of_memory", bomb
    assert "memory ceiling" in bomb["error_message"] and "--page-memory" in bomb["error_message"]
    (fanout,) = by_name["fanout.pdf"]
    assert fanout["error_type"] in ("timeout", "out_of_memory"), fanout
    assert {row["status"] for row in by_name["good.pdf"]} == {"ok"}
    assert len(by_name["good.pdf"]) == 3
    assert sum(result.summary.by_error_type.values()) == 2
