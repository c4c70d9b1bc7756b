"""scripts/gpu_check.sh on a machine without a GPU: it says what it could not do, writes its
report anyway and exits non-zero (a check that ran nothing has not passed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu_check.sh"


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has a GPU")
def test_without_a_gpu_every_step_is_reported_as_skipped_with_its_reason(tmp_path):
    report = tmp_path / "report.md"
    done = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "no-model"), str(report)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHON": ""},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    text = report.read_text()
    assert "| gpu | skipped: nvidia-smi finds no GPU" in text
    assert "| model | skipped: no folder" in text
    for step in ("environment", "gpu-tests", "bench-vlm"):
        assert f"| {step} | skipped: " in text
    assert "- GPU: none" in text
    assert f"report in {report}" in done.stdout
