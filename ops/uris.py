"""Local paths and object-store URIs, with the connection options a URI may carry.

pyarrow reads options from an object-store URI's query (``s3://bucket/in?endpoint_override=
127.0.0.1:9000&scheme=http``), which is how a MinIO, Ceph or R2 user names a store without
setting ``AWS_ENDPOINT_URL``. Every URI pagemill derives from one the user gave (``OUTPUT/pages``,
a listed shard, a listed input file) must keep those options, or it silently points at AWS: so
paths are joined and listings turned back into URIs here, and nowhere else.

Credentials never travel in a URI (``s3://KEY:SECRET@bucket`` or ``?secret_key=``): a URI lands
in manifests, rows and logs, so they come from the environment only.
"""

from __future__ import annotations

import functools
import os
from urllib.parse import parse_qsl, urlsplit

from pyarrow import fs

# The URI options of pyarrow's S3 and GCS filesystems that are secrets.
CREDENTIAL_OPTIONS = frozenset({"access_key", "secret_key", "session_token", "access_token"})


def is_object_store(uri: str) -> bool:
    """True for ``scheme://`` URIs other than ``file://`` (a local path may hold ``?``)."""
    return "://" in uri and not uri.startswith("file://")


def split_options(uri: str) -> tuple[str, str]:
    """``(uri without its query, "?query" or "")``; local paths have no options."""
    if not is_object_store(uri):
        return uri, ""
    base, mark, query = uri.partition("?")
    return base, f"{mark}{query}"


def join(uri: str, *parts: str) -> str:
    """``uri/part/...`` with the URI's options kept at the end."""
    base, options = split_options(uri)
    return "/".join([base.rstrip("/"), *parts]) + options


def from_listing(uri: str, path: str) -> str:
    """The URI of ``path``, as a filesystem resolved from ``uri`` lists it (object-store
    filesystems give paths without scheme or options): same scheme, same options."""
    if not is_object_store(uri):
        return path
    scheme = uri.split("://", 1)[0]
    return f"{scheme}://{path}{split_options(uri)[1]}"


def check_no_credentials(uri: str) -> None:
    """Raise ``ValueError`` naming the fix when ``uri`` carries a secret."""
    if not is_object_store(uri):
        return
    parts = urlsplit(uri)
    secrets = sorted(key for key, _ in parse_qsl(parts.query) if key in CREDENTIAL_OPTIONS)
    if parts.password or secrets:
        where = "user:password@ in the URI" if parts.password else f"?{', ?'.join(secrets)}"
        raise ValueError(
            f"{redact(uri)} carries credentials ({where}); URIs are written to manifests, rows "
            "and logs. Set them in the environment instead (AWS_ACCESS_KEY_ID / "
            "AWS_SECRET_ACCESS_KEY, or GOOGLE_APPLICATION_CREDENTIALS)."
        )


def redact(uri: str) -> str:
    """``uri`` with user info and credential options replaced by ``***``, for error messages."""
    if not is_object_store(uri):
        return uri
    parts = urlsplit(uri)
    netloc = parts.netloc.rpartition("@")[2] if "@" in parts.netloc else parts.netloc
    if parts.username is not None:
        netloc = f"***@{netloc}"
    query = "&".join(
        f"{key}=***" if key in CREDENTIAL_OPTIONS else f"{key}={value}"
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def resolve(uri: str) -> tuple[fs.FileSystem, str]:
    """A pyarrow filesystem and the path on it, for a local path or an object-store URI.

    Object-store filesystems are made once per bucket and options, not once per file: making
    one costs a credential lookup, and evaluation reads thousands of shards."""
    if not is_object_store(uri):
        return fs.LocalFileSystem(), os.path.abspath(uri.removeprefix("file://"))
    check_no_credentials(uri)
    base, options = split_options(uri)
    scheme, _, rest = base.partition("://")
    bucket = rest.split("/", 1)[0]
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENV)))
    return _object_store(f"{scheme}://{bucket}{options}", environment), rest.rstrip("/") or bucket


# Variables a filesystem reads when it is made: one made under other values is not reused.
_ENV = ("AWS_", "GOOGLE_", "GCS_")


@functools.lru_cache(maxsize=32)
def _object_store(root: str, environment: tuple[tuple[str, str], ...]) -> fs.FileSystem:
    del environment  # part of the cache key only
    return fs.FileSystem.from_uri(root)[0]
