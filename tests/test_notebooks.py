"""Notebooks are documentation that must run: each is executed by a real Jupyter kernel
(nbclient), from the notebook's own folder, as a user would run it; and they are kept in git
without outputs."""

from __future__ import annotations

import json
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


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_in_a_kernel(path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebooks_are_stored_without_outputs(path):
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["source"]


def test_the_numbered_notebooks_are_there():
    assert [path.name for path in NOTEBOOKS][:2] == ["01_quickstart.ipynb", "02_evaluate.ipynb"]
