"""Deciding, before any cluster work, which documents a run still has to touch.

A document whose pages all have rows is checked on the driver (its bytes are hashed again, so a
file changed in place is redone) and left out entirely; a run over a finished OUTPUT therefore
starts no Ray work at all. A partly done document goes to planning with the pages it can skip.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ops import ledger
from ops.sources import fingerprint

# Hashing is I/O (object stores) or hashlib (which releases the GIL): threads overlap both.
HASH_THREADS = 8


@dataclass(frozen=True)
class ResumePlan:
    todo: list[dict[str, Any]]  # planning items: source_uri, done_doc_id, done_pages
    documents_done: int = 0  # inputs with nothing left to do
    pages_done: int = 0  # pages of the inputs that already have rows
    changed: list[str] = field(default_factory=list)  # finished once, bytes differ now

    def describe(self) -> dict[str, Any]:
        return {
            "documents_to_process": len(self.todo),
            "documents_already_done": self.documents_done,
            "pages_already_done": self.pages_done,
            "documents_changed_since": len(self.changed),
        }


def plan_resume(uris: list[str], pages_dir: str, *, retry_failed: bool) -> ResumePlan:
    records = ledger.load(pages_dir)
    complete = [uri for uri in uris if uri in records and records[uri].complete(retry_failed)]
    with ThreadPoolExecutor(HASH_THREADS) as pool:
        current = dict(zip(complete, pool.map(_fingerprint_or_none, complete), strict=True))
    todo: list[dict[str, Any]] = []
    documents_done = pages_done = 0
    changed: list[str] = []
    for uri in uris:
        record = records.get(uri)
        if record is None:
            todo.append({"source_uri": uri, "done_doc_id": None, "done_pages": []})
            continue
        if uri in current and current[uri] in (record.doc_id, None):  # None: unreadable now
            documents_done += 1
            pages_done += record.page_count or 0
            continue
        if uri in current:
            changed.append(uri)
            todo.append({"source_uri": uri, "done_doc_id": None, "done_pages": []})
            continue
        done = sorted(record.done_pages(retry_failed))
        pages_done += len(done)
        todo.append({"source_uri": uri, "done_doc_id": record.doc_id, "done_pages": done})
    return ResumePlan(todo, documents_done, pages_done, changed)


def _fingerprint_or_none(uri: str) -> str | None:
    try:
        return fingerprint(uri)
    except OSError:
        return None  # gone or unreadable now: planning records why
