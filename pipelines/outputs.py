"""The OUTPUT folder: ``pages/`` holds the Parquet shards, ``_runs/`` one manifest per run.

Paths go through pyarrow filesystems so OUTPUT may be local or an object-store URI.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from typing import Any

from pyarrow import fs

from ops.shards import TEMPORARY_PREFIX, write_atomically
from ops.uris import from_listing, join, resolve

PAGES_DIR = "pages"
RUNS_DIR = "_runs"
EVAL_DIR = "_eval"  # pagemill eval's default report folder
INPUTS_SUFFIX = ".inputs.txt.gz"


def pages_dir(output: str) -> str:
    return join(output, PAGES_DIR)


def runs_dir(output: str) -> str:
    return join(output, RUNS_DIR)


def has_pages(output: str) -> bool:
    filesystem, root = resolve(pages_dir(output))
    info = filesystem.get_file_info(root)
    if info.type != fs.FileType.Directory:
        return False
    selector = fs.FileSelector(root, recursive=True)
    return any(entry.path.endswith(".parquet") for entry in filesystem.get_file_info(selector))


def list_shards(output: str) -> list[str]:
    """Finished shards of an output: hidden temporaries of running or killed writers excluded,
    and ``_``-prefixed files too, as reconciliation's pyarrow dataset skips them (so the
    evaluation plan and reconciliation see the same shards)."""
    directory = pages_dir(output)
    filesystem, root = resolve(directory)
    selector = fs.FileSelector(root, recursive=True, allow_not_found=True)
    return sorted(
        from_listing(directory, info.path)
        for info in filesystem.get_file_info(selector)
        if info.type == fs.FileType.File
        and info.path.endswith(".parquet")
        and not info.base_name.startswith((TEMPORARY_PREFIX, "_"))
    )


def check_location(output: str) -> None:
    """Raise ``ValueError`` when OUTPUT cannot be a folder (an existing file is there)."""
    filesystem, root = resolve(output)
    if filesystem.get_file_info(root).type == fs.FileType.File:
        raise ValueError(
            f"OUTPUT {output} is a file; give a folder (pagemill writes pages/ and _runs/ in it)"
        )


def prepare(output: str, *, overwrite: bool) -> None:
    """Create ``pages/``; with ``overwrite``, first delete what earlier runs wrote.

    Without ``overwrite`` an existing OUTPUT is resumed (see :mod:`pipelines.resume`). The folder
    must exist before any writer starts, so that page tasks can write into it at once.
    """
    if overwrite:
        filesystem, root = resolve(output)
        # What pagemill wrote here, and nothing else: other files in OUTPUT are the user's.
        for name in (PAGES_DIR, RUNS_DIR, EVAL_DIR):
            path = join(root, name)
            if filesystem.get_file_info(path).type == fs.FileType.Directory:
                filesystem.delete_dir(path)
    filesystem, pages = resolve(pages_dir(output))
    filesystem.create_dir(pages, recursive=True)


def write_manifest(output: str, run_id: str, manifest: dict[str, Any]) -> str:
    data = json.dumps(manifest, indent=2, default=str).encode("utf-8")
    return write_atomically(runs_dir(output), f"{run_id}.json", lambda stream: stream.write(data))


def write_inputs(output: str, run_id: str, uris: list[str]) -> str:
    """The run's resolved inputs, one per line (gzip): what ``pagemill status`` counts as
    pending when a document has no row yet."""
    filesystem, root = resolve(runs_dir(output))
    filesystem.create_dir(root, recursive=True)
    path = join(root, f"{run_id}{INPUTS_SUFFIX}")
    with filesystem.open_output_stream(path + ".tmp", compression="gzip") as stream:
        stream.write("".join(f"{uri}\n" for uri in uris).encode("utf-8"))
    filesystem.move(path + ".tmp", path)
    return path


def read_inputs(output: str, run_id: str) -> list[str]:
    filesystem, root = resolve(runs_dir(output))
    path = join(root, f"{run_id}{INPUTS_SUFFIX}")
    if filesystem.get_file_info(path).type != fs.FileType.File:
        return []
    with filesystem.open_input_stream(path, compression="gzip") as stream:
        return stream.read().decode("utf-8").splitlines()


def read_manifests(output: str) -> list[dict[str, Any]]:
    """Every run's manifest, oldest first."""
    filesystem, root = resolve(runs_dir(output))
    if filesystem.get_file_info(root).type != fs.FileType.Directory:
        return []
    manifests = []
    for info in filesystem.get_file_info(fs.FileSelector(root)):
        if info.type == fs.FileType.File and info.base_name.endswith(".json"):
            with filesystem.open_input_stream(info.path) as stream:
                try:
                    manifests.append(json.loads(stream.read()))
                except ValueError as exc:
                    raise ValueError(
                        f"{info.path} is not a readable pagemill manifest ({exc}); move it out "
                        "of the folder if it is not one"
                    ) from exc
    return sorted(manifests, key=lambda manifest: manifest.get("started_at", ""))


def versions() -> dict[str, str]:
    import pypdfium2

    found = {"python": platform.python_version(), "pdfium": str(pypdfium2.PDFIUM_INFO)}
    for package in ("pagemill", "ray", "pypdfium2", "pyarrow", "tesserocr", "rapidocr-onnxruntime"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found
