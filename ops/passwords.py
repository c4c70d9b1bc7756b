"""Which password opens which PDF: one for all, or per document from a map file.

A corpus often mixes files locked with different passwords (one per customer, per year). The map
is a JSON object of ``{pattern: password}``; a pattern is a shell wildcard matched against the
file's full path or URI and against its trailing path components, so ``"invoices/*.pdf"`` matches
``s3://bucket/2024/invoices/a.pdf``. The first pattern that matches wins, in file order; a file no
pattern matches gets the default password (``--password``). Passwords never appear in a repr, a
log line, a manifest or a row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

PasswordMap = tuple[tuple[str, str], ...]


def read_password_map(path: str | Path) -> PasswordMap:
    """The ``(pattern, password)`` pairs of a map file, in file order; errors say what to fix
    without quoting any password."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"password map {path} does not exist") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ValueError(
            f'password map {path} is not a JSON object of {{"pattern": "password"}}{where}'
        ) from None
    if not isinstance(data, dict):
        raise ValueError(f'password map {path} must be a JSON object of {{"pattern": "password"}}')
    bad = [pattern for pattern, password in data.items() if not isinstance(password, str)]
    if bad:
        raise ValueError(f"password map {path}: the password for {bad[0]!r} is not a string")
    return tuple(data.items())


def password_for(uri: str, password_map: PasswordMap, default: str | None) -> str | None:
    for pattern, password in password_map:
        if fnmatchcase(uri, pattern) or fnmatchcase(uri, f"*/{pattern}"):
            return password
    return default


@dataclass(frozen=True, slots=True)
class Passwords:
    """The passwords in effect (a default and a map), carried to the workers that open PDFs;
    never in a repr, so never in a log line or a traceback's locals."""

    default: str | None = field(default=None, repr=False)
    by_pattern: PasswordMap = field(default=(), repr=False)

    def for_uri(self, uri: str) -> str | None:
        return password_for(uri, self.by_pattern, self.default)
