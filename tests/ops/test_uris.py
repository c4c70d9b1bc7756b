"""URIs derived from the one a user gave keep its connection options; credentials never ride in
one. Reading through such a URI against a real S3-compatible server is in
tests/pipelines/test_object_storage.py."""

from __future__ import annotations

import pytest
from pyarrow import fs

from ops import uris

STORE = "s3://bucket/out?endpoint_override=127.0.0.1:9000&scheme=http"


def test_joined_paths_keep_the_options_at_the_end():
    assert uris.join(STORE, "pages") == (
        "s3://bucket/out/pages?endpoint_override=127.0.0.1:9000&scheme=http"
    )
    assert uris.join("s3://bucket/out/", "_runs", "a.json") == "s3://bucket/out/_runs/a.json"
    # A local file name may hold "?": it is a name, not options.
    assert uris.join("/data/what?.d", "pages") == "/data/what?.d/pages"


def test_a_listed_path_becomes_a_uri_with_the_same_scheme_and_options():
    listed = uris.from_listing(STORE, "bucket/out/pages/a.parquet")
    assert listed == "s3://bucket/out/pages/a.parquet?endpoint_override=127.0.0.1:9000&scheme=http"
    assert uris.from_listing("gs://b/in", "b/in/x.pdf") == "gs://b/in/x.pdf"
    assert uris.from_listing("/data/in", "/data/in/x.pdf") == "/data/in/x.pdf"


def test_resolve_gives_the_path_without_options_and_one_filesystem_per_store():
    filesystem, path = uris.resolve(uris.join(STORE, "pages", "a.parquet"))
    assert isinstance(filesystem, fs.S3FileSystem)
    assert path == "bucket/out/pages/a.parquet"
    assert uris.resolve(uris.join(STORE, "_runs"))[0] is filesystem
    # Another endpoint is another store.
    other = uris.resolve("s3://bucket/out?endpoint_override=127.0.0.1:9001&scheme=http")[0]
    assert other is not filesystem


def test_a_filesystem_made_under_other_variables_is_not_reused(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    first = uris.resolve("s3://bucket/a")[0]
    assert uris.resolve("s3://bucket/b")[0] is first
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9001")
    assert uris.resolve("s3://bucket/a")[0] is not first


def test_local_paths_and_file_uris_resolve_to_the_local_filesystem(tmp_path):
    for given in (str(tmp_path), f"file://{tmp_path}"):
        filesystem, path = uris.resolve(given)
        assert isinstance(filesystem, fs.LocalFileSystem) and path == str(tmp_path)


@pytest.mark.parametrize(
    "uri",
    [
        "s3://AKIAKEY:very-secret@bucket/in",
        "s3://bucket/in?secret_key=very-secret&access_key=AKIAKEY",
        "gs://bucket/in?access_token=very-secret",
    ],
)
def test_credentials_in_a_uri_are_refused_without_repeating_them(uri):
    with pytest.raises(ValueError, match="AWS_SECRET_ACCESS_KEY") as raised:
        uris.check_no_credentials(uri)
    assert "very-secret" not in str(raised.value)
    with pytest.raises(ValueError):
        uris.resolve(uri)


def test_options_that_are_not_secrets_are_allowed_and_kept_in_messages():
    uris.check_no_credentials(STORE)
    assert uris.redact(STORE) == STORE
    assert uris.redact("s3://bucket/in?secret_key=x&region=eu") == (
        "s3://bucket/in?secret_key=***&region=eu"
    )
