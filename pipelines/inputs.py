"""Turning the user's INPUT into a sorted list of document URIs.

INPUT may be a folder (searched recursively), a glob, a list file (one path or URI per line), a
single PDF or image, or an ``s3://`` / ``gs://`` prefix or object.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from ops.sources import DOCUMENT_EXTENSIONS, is_remote

LIST_FILE_EXTENSIONS = frozenset({".txt", ".lst", ".list"})


class NoInputs(ValueError):
    """INPUT matched no documents."""


def resolve_inputs(spec: str | Sequence[str]) -> list[str]:
    """The documents of one INPUT, or of several (each must exist and match something)."""
    if not isinstance(spec, str):
        return list(dict.fromkeys(uri for one in spec for uri in resolve_inputs(one)))
    if is_remote(spec):
        uris = _remote(spec)
    elif any(char in spec for char in "*?["):
        uris = sorted(str(Path(p)) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
    else:
        path = Path(spec)
        if not path.exists():
            raise NoInputs(f"INPUT {spec!r} does not exist")
        if path.is_dir():
            uris = _walk(path)
        elif path.suffix.lower() in LIST_FILE_EXTENSIONS:
            uris = _list_file(path)
        else:
            uris = [str(path)]
    if not uris:
        exts = ", ".join(sorted(DOCUMENT_EXTENSIONS))
        raise NoInputs(f"INPUT {spec!r} matched no documents (looked for {exts})")
    # Workers run in other directories (and on other machines): local paths must be absolute.
    # A file listed twice is one document: its pages get one row each, not two.
    return list(dict.fromkeys(uri if is_remote(uri) else os.path.abspath(uri) for uri in uris))


def _walk(root: Path) -> list[str]:
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if Path(name).suffix.lower() in DOCUMENT_EXTENSIONS:
                found.append(str(Path(folder) / name))
    return sorted(found)


def _list_file(path: Path) -> list[str]:
    """Entries are kept even if they do not exist: a missing file becomes an error row."""
    uris = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if is_remote(line) or Path(line).is_absolute():
            uris.append(line)
        else:
            uris.append(str(path.parent / line))
    return uris


def _remote(uri: str) -> list[str]:
    from pyarrow import fs

    from ops.uris import from_listing, resolve

    filesystem, root = resolve(uri)
    info = filesystem.get_file_info(root)
    if info.type == fs.FileType.File:
        return [uri]
    selector = fs.FileSelector(root, recursive=True, allow_not_found=False)
    return sorted(
        from_listing(uri, entry.path)
        for entry in filesystem.get_file_info(selector)
        if entry.type == fs.FileType.File and Path(entry.path).suffix.lower() in DOCUMENT_EXTENSIONS
    )
