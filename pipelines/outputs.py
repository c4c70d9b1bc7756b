"""The OUTPUT folder: ``pages/`` holds the Parquet shards, ``_runs/`` one manifest per run.

Paths go through pyarrow filesystems so OUTPUT may be local or an object-store URI.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from typing import Any

from pyarrow import fs

from ops.shards import resolve

PAGES_DIR = "pages"
RUNS_DIR = "_runs"


class OutputExists(RuntimeError):
    """OUTPUT already holds pages from an earlier run."""


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def pages_dir(output: str) -> str:
    return _join(output, PAGES_DIR)


def has_pages(output: str) -> bool:
    filesystem, root = resolve(pages_dir(output))
    info = filesystem.get_file_info(root)
    if info.type != fs.FileType.Directory:
        return False
    selector = fs.FileSelector(root, recursive=True)
    return any(entry.path.endswith(".parquet") for entry in filesystem.get_file_info(selector))


def prepare(output: str, *, overwrite: bool) -> None:
    """Refuse to mix runs in one OUTPUT unless asked to start clean; create ``pages/``.

    The folder must exist before Ray's Parquet writer starts: a writer that created it and then
    wrote no rows (every page took the text route) deletes it, page-task shards included.
    """
    if has_pages(output):
        if not overwrite:
            raise OutputExists(
                f"{output!r} already holds pages from an earlier run; pass --overwrite to replace "
                "them or choose another OUTPUT"
            )
        filesystem, root = resolve(output)
        for name in (PAGES_DIR, RUNS_DIR):
            path = _join(root, name)
            if filesystem.get_file_info(path).type == fs.FileType.Directory:
                filesystem.delete_dir(path)
    filesystem, pages = resolve(pages_dir(output))
    filesystem.create_dir(pages, recursive=True)


def write_manifest(output: str, run_id: str, manifest: dict[str, Any]) -> str:
    filesystem, root = resolve(output)
    folder = _join(root, RUNS_DIR)
    filesystem.create_dir(folder, recursive=True)
    path = _join(folder, f"{run_id}.json")
    temporary = path + ".tmp"
    with filesystem.open_output_stream(temporary) as stream:
        stream.write(json.dumps(manifest, indent=2, default=str).encode("utf-8"))
    filesystem.move(temporary, path)
    return path


def versions() -> dict[str, str]:
    import pypdfium2

    found = {"python": platform.python_version(), "pdfium": str(pypdfium2.PDFIUM_INFO)}
    for package in ("pagemill", "ray", "pypdfium2", "pyarrow", "tesserocr", "rapidocr-onnxruntime"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found
