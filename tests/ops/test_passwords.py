"""Per-document passwords: which pattern matches which file, and map files that cannot be used."""

from __future__ import annotations

import json

import pytest

from ops.passwords import password_for, read_password_map

MAP = (("invoices/*.pdf", "inv"), ("report.pdf", "rep"), ("*.pdf", "any"))


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/2024/invoices/a.pdf", "inv"),  # trailing components
        ("/data/invoices/b.pdf", "inv"),
        ("/data/report.pdf", "rep"),  # base name
        ("report.pdf", "rep"),  # relative, whole
        ("/data/other.pdf", "any"),  # first match in file order wins
        ("/data/scan.tif", "default"),  # no pattern matches: the default
        ("/data/invoices-old/c.pdf", "any"),  # a folder name is not a prefix match
        ("/data/Report.pdf", "any"),  # case-sensitive, like the file systems it names
    ],
)
def test_the_first_matching_pattern_wins_else_the_default(uri, expected):
    assert password_for(uri, MAP, "default") == expected


def test_a_map_keeps_file_order(tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps(dict(MAP)))
    assert read_password_map(path) == MAP


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ('{"a.pdf": "x",', "is not a JSON object"),
        ('["a.pdf", "secret-value"]', "must be a JSON object"),
        ('{"a.pdf": 1234}', "the password for 'a.pdf' is not a string"),
    ],
)
def test_unusable_maps_say_what_to_fix_without_quoting_passwords(tmp_path, content, message):
    path = tmp_path / "map.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=message) as caught:
        read_password_map(path)
    assert "secret-value" not in str(caught.value) and "1234" not in str(caught.value)
