"""Encrypted PDFs with different passwords in one run, end to end through the CLI: each opens with
its own password from --password-map, an unmatched one becomes an error row that says which flag
to use, and no password appears in the output, the manifest or what the command prints."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from pipelines.cli import EXIT_USAGE, main
from tests import hostile_files as hostile

pytestmark = pytest.mark.usefixtures("ray_cluster")

SECRETS = {"alpha-Secret-1": "a.pdf", "beta-Secret-2": "sub/b.pdf", "gamma-Secret-3": "c.pdf"}


def test_each_document_opens_with_its_own_password(tmp_path: Path, capsys):
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    for password, name in SECRETS.items():
        (inputs / name).write_bytes(hostile.encrypted_pdf(password, "owner-" + password))
    (inputs / "locked.pdf").write_bytes(hostile.encrypted_pdf("delta-Secret-4", "owner-x"))
    password_map = tmp_path / "passwords.json"
    # c.pdf is matched by the wildcard after a non-matching specific entry.
    mapping = {"a.pdf": "alpha-Secret-1", "sub/*.pdf": "beta-Secret-2", "c*.pdf": "gamma-Secret-3"}
    password_map.write_text(json.dumps(mapping))
    output = tmp_path / "out"
    argv = ["run", str(inputs), str(output), "--no-progress", "--backend", "fake"]
    assert main([*argv, "--password-map", str(password_map)]) == 0

    rows = pads.dataset(output / "pages").to_table().to_pylist()
    by_name: dict[str, list[dict]] = {}
    for row in rows:
        by_name.setdefault(Path(row["source_uri"]).name, []).append(row)
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        assert [row["status"] for row in by_name[name]] == ["ok", "ok"], by_name[name]
    (locked,) = by_name["locked.pdf"]
    assert locked["error_type"] == "encrypted" and "--password-map" in locked["error_message"]

    written = "".join(path.read_text() for path in (output / "_runs").glob("*.json"))
    printed = "".join(capsys.readouterr())
    shards = b"".join(path.read_bytes() for path in (output / "pages").rglob("*.parquet"))
    for secret in [*SECRETS, "delta-Secret-4"]:
        assert secret not in written and secret not in printed
        assert secret.encode() not in shards


def test_a_broken_map_is_a_usage_error_before_any_work(tmp_path: Path, samples: Path, capsys):
    password_map = tmp_path / "passwords.json"
    password_map.write_text('{"a.pdf": ')
    argv = ["run", str(samples / "docs"), str(tmp_path / "out"), "--no-progress"]
    assert main([*argv, "--password-map", str(password_map)]) == EXIT_USAGE
    assert "is not a JSON object" in capsys.readouterr().err
    assert not (tmp_path / "out" / "pages").exists()
