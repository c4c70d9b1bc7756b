"""Ground truth for evaluation: where it comes from and which output page each entry belongs to.

Truth is keyed by a *name* — a source file's path relative to the truth root, without its
extension — and a 1-based page number, or no page for a whole document. An output row matches the
longest name that ends its ``source_uri`` (with or without the extension), so ``scans/a.tif``
and ``a.pdf`` find ``scans/a`` and ``a`` in that order of preference, and the same truth folder
works for outputs made from ``/data/in`` or ``s3://bucket/in``.

Conventions of a truth folder (all UTF-8 text):

* ``NAME.txt``, ``NAME.gt.txt`` or ``NAME.gold.txt`` — the whole document ``NAME.*``;
* ``NAME/0001.txt`` (any zero padding; ``.gt.txt`` too) — page 1 of ``NAME.*``.

A truth table (Parquet or JSON Lines) has a ``text`` column, a document column (``source``,
``source_uri``, ``name`` or ``doc_id``) and optionally ``page_number`` (null: whole document).
Rows keyed by ``doc_id`` (the sha256 of the file's bytes) match exactly, whatever the file is
called.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pyarrow as pa

from ops.uris import split_options

TEXT_SUFFIXES = (".gt.txt", ".gold.txt", ".txt")
_PAGE_FILE = re.compile(r"^(?:page[-_]?)?(\d+)$", re.IGNORECASE)
NAME_COLUMNS = ("source", "source_uri", "name")
DOCUMENT_EXTENSIONS = frozenset({"pdf", "png", "jpg", "jpeg", "tif", "tiff", "webp", "bmp", "gif"})
DOCUMENT = 0  # the page number of a whole-document truth entry


@dataclass(frozen=True, slots=True)
class TruthRef:
    """Where one truth text is: a file to read, or the text itself (from a table)."""

    path: str | None = None
    text: str | None = None

    def read(self) -> str:
        if self.text is not None:
            return self.text
        return Path(self.path).read_text(encoding="utf-8")  # type: ignore[arg-type]


@dataclass(slots=True)
class TruthIndex:
    """Truth entries by name (or doc_id) and page; ``DOCUMENT`` stands for the whole file."""

    description: str
    kind: str = "table"  # folder | table: how the entries were found
    by_name: dict[str, dict[int, TruthRef]] = field(default_factory=dict)
    by_doc_id: dict[str, dict[int, TruthRef]] = field(default_factory=dict)

    def add(self, name: str | None, doc_id: str | None, page: int, ref: TruthRef) -> None:
        if doc_id:
            self.by_doc_id.setdefault(doc_id, {})[page] = ref
        elif name:
            self.by_name.setdefault(_clean_name(name), {})[page] = ref

    def units(self) -> Iterator[tuple[str, int]]:
        """Every truth entry an output page could use, as ``(key, page)``; keys are names or
        ``doc_id:<sha>``. A whole-document entry of a document that also has page entries is
        left out: the page entries are the more specific truth, so it is never used (and so
        never missing)."""
        for prefix, index in (("", self.by_name), ("doc_id:", self.by_doc_id)):
            for key, pages in index.items():
                paged = any(page != DOCUMENT for page in pages)
                for page in pages:
                    if not (paged and page == DOCUMENT):
                        yield f"{prefix}{key}", page

    def __len__(self) -> int:
        return sum(len(pages) for pages in self.by_name.values()) + sum(
            len(pages) for pages in self.by_doc_id.values()
        )

    def subset(self, documents: Iterable[tuple[str, str | None]]) -> TruthIndex:
        """The entries that ``documents`` (``(source_uri, doc_id)`` pairs) match: what one
        scoring task needs. Each document matches the same key in the subset as in the whole,
        since the subset holds every key the whole would have tried first and found."""
        subset = TruthIndex(self.description, self.kind)
        for source_uri, doc_id in documents:
            key, pages = self.match(source_uri, doc_id)
            if doc_id and self.by_doc_id.get(doc_id) is pages:
                subset.by_doc_id[doc_id] = self.by_doc_id[doc_id]
            elif key:
                subset.by_name[key] = self.by_name[key]
        return subset

    def match(self, source_uri: str, doc_id: str | None) -> tuple[str, Mapping[int, TruthRef]]:
        """The truth key and entries for one output document, or ``("", {})``."""
        if doc_id and doc_id in self.by_doc_id:
            return f"doc_id:{doc_id}", self.by_doc_id[doc_id]
        for candidate in candidate_names(source_uri):
            pages = self.by_name.get(candidate)
            if pages is not None:
                return candidate, pages
        return "", {}


def candidate_names(source_uri: str) -> list[str]:
    """Names a source may be known by in a truth set, longest (most specific) first."""
    path = split_options(source_uri)[0].split("://", 1)[-1]
    parts = [part for part in PurePosixPath(path.replace("\\", "/")).parts if part != "/"]
    if not parts:
        return []
    stem = parts[-1].rsplit(".", 1)[0] if "." in parts[-1] else parts[-1]
    names = []
    for start in range(len(parts) - 1, -1, -1):
        prefix = "/".join(parts[start:-1])
        for last in (parts[-1], stem):
            names.append(f"{prefix}/{last}" if prefix else last)
    names.sort(key=lambda name: -name.count("/"))  # stable: with extension first per depth
    return list(dict.fromkeys(names))


def load_folder(root: str | Path) -> TruthIndex:
    """Index a folder of text files by the conventions in the module docstring (reads no text).
    Paths are kept absolute: the tasks that read them need not share the caller's directory."""
    root = Path(root).absolute()
    if not root.is_dir():
        raise ValueError(f"truth folder {root} does not exist")
    index = TruthIndex(f"text files under {root}", kind="folder")
    for path in sorted(root.rglob("*.txt")):
        relative = path.relative_to(root).as_posix()
        name = _strip_suffix(relative)
        if name is None:
            continue
        parent, _, last = name.rpartition("/")
        page = _PAGE_FILE.match(last)
        if parent and page:
            index.add(parent, None, int(page.group(1)), TruthRef(path=str(path)))
        else:
            index.add(name, None, DOCUMENT, TruthRef(path=str(path)))
    if not len(index):
        raise ValueError(
            f"no truth texts under {root}: expected NAME.txt / NAME.gt.txt per document or "
            "NAME/0001.txt per page"
        )
    return index


def load_table(path: str | Path) -> TruthIndex:
    """Index a Parquet or JSON Lines truth table (texts are kept in memory)."""
    table = read_table(path)
    names = [column for column in (*NAME_COLUMNS, "doc_id") if column in table.column_names]
    if "text" not in table.column_names or not names:
        raise ValueError(
            f"truth table {path} needs a `text` column and one of "
            f"{', '.join((*NAME_COLUMNS, 'doc_id'))} (optionally page_number); "
            f"it has {', '.join(table.column_names)}"
        )
    index = TruthIndex(f"truth table {path}")
    rows = table.to_pydict()
    count = table.num_rows
    pages = rows.get("page_number", [None] * count)
    name_column = next((rows[c] for c in NAME_COLUMNS if c in rows), [None] * count)
    doc_ids = rows.get("doc_id", [None] * count)
    for line, (name, doc_id, page, text) in enumerate(
        zip(name_column, doc_ids, pages, rows["text"], strict=True), start=1
    ):
        if text is None:
            continue
        if page is not None and (page != page or int(page) != page or page < 1):  # NaN too
            raise ValueError(
                f"truth table {path}, row {line}: page_number {page!r} is not a page number "
                "(1-based; leave it empty for a whole document)"
            )
        index.add(name, doc_id, int(page) if page is not None else DOCUMENT, TruthRef(text=text))
    return index


def read_table(path: str | Path) -> pa.Table:
    path = Path(path)
    if not path.exists():
        raise ValueError(f"truth table {path} does not exist")
    if path.suffix in (".jsonl", ".ndjson", ".json"):
        import pyarrow.json as pajson

        return pajson.read_json(path)
    import pyarrow.parquet as pq

    return pq.read_table(path)


def _strip_suffix(relative: str) -> str | None:
    for suffix in TEXT_SUFFIXES:
        if relative.endswith(suffix):
            return relative[: -len(suffix)]
    return None


def _clean_name(name: str) -> str:
    """A table's name column may hold a file name, a path or a URI: keep what a folder's name
    would be (no scheme, no leading ``/``, no document extension)."""
    path = name.split("://", 1)[-1].replace("\\", "/").lstrip("/")
    stem, dot, extension = path.rpartition(".")
    if dot and "/" not in extension and extension.lower() in DOCUMENT_EXTENSIONS:
        return stem
    return path
