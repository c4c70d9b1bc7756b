"""Notebooks are documentation that must run: each is executed by a real Jupyter kernel
(nbclient), from the notebook's own folder, as a user would run it; and they are kept in git
without outputs."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def _outputs_text(notebook) -> str:
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.extend(str(value) for value in output.get("data", {}).values())
    return "\n".join(texts)


@pytest.fixture
def cluster_for_notebook(tmp_path, tmp_path_factory, monkeypatch) -> Iterator[None]:
    """A running head for ``03_cluster`` to connect to (the notebook finds its metrics endpoint
    itself), its agents reporting metrics every half second (Ray's default is every 10 s). The
    job's runtime environment has no pip step: the node runs from this environment already."""
    pytest.importorskip("ray.dashboard", reason="needs ray[default]: the cluster extra")
    from tests.loopback import BIN, loopback_cluster

    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PATH": f"{BIN}:{os.environ['PATH']}"}
    env["RAY_metrics_report_interval_ms"] = "500"
    runtime_env = tmp_path / "runtime_env.yaml"
    runtime_env.write_text('env_vars:\n  OMP_THREAD_LIMIT: "1"\n  RAY_AUTH_MODE: disabled\n')
    monkeypatch.delenv("PAGEMILL_NOTEBOOK_METRICS", raising=False)
    # Its own short temp folder: Ray's socket paths must stay under 108 bytes.
    with loopback_cluster(tmp_path_factory.mktemp("ray"), env, 2, None) as cluster:
        monkeypatch.setenv("PAGEMILL_NOTEBOOK_RAY_ADDRESS", cluster.address)
        monkeypatch.setenv("PAGEMILL_NOTEBOOK_RUNTIME_ENV", str(runtime_env))
        yield


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_in_a_kernel(path, tmp_path, monkeypatch, request):
    import nbformat
    from nbclient import NotebookClient

    if path.name.startswith("03"):
        request.getfixturevalue("cluster_for_notebook")
    monkeypatch.setenv("PAGEMILL_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on failure
    printed = _outputs_text(notebook)
    assert "ocr" in printed and "text" in printed
    if path.name.startswith("01"):
        assert "image/png" in json.dumps(nbformat.writes(notebook))  # the page image
    if path.name.startswith("02"):
        assert "<svg" in printed and "pages scored: CER" in printed
    if path.name.startswith("03"):
        # The job ran on the cluster, and its counters were seen moving while it did.
        assert "SUCCEEDED after" in printed and "job: " in printed and " head ALIVE " in printed
        done = [float(v) for v in re.findall(r"RUNNING: (\d+) pages done", printed)]
        assert any(value > 0 for value in done), printed[-3000:]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebooks_are_stored_without_outputs(path):
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["source"]


def test_the_numbered_notebooks_are_there():
    names = [path.name for path in NOTEBOOKS]
    assert names == ["01_quickstart.ipynb", "02_evaluate.ipynb", "03_cluster.ipynb"]
