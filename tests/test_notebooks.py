"""Notebooks are documentation that must run: execute every code cell in order (no Jupyter
needed), from the notebook's own folder, on the session's Ray cluster."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs(notebook, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(notebook.parent)
    monkeypatch.setenv("PAGEMILL_NOTEBOOK_OUT", str(tmp_path))
    cells = json.loads(notebook.read_text())["cells"]
    namespace: dict = {"__name__": "__notebook__"}
    for cell in cells:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{notebook.name}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "ocr" in printed and "text" in printed
    assert os.listdir(tmp_path / "pages")


def test_there_is_a_notebook():
    assert NOTEBOOKS
