from __future__ import annotations

import os

import pytest

from pipelines.inputs import NoInputs, resolve_inputs


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.PDF").write_bytes(b"%PDF-1.4")
    (tmp_path / "sub" / "c.tif").write_bytes(b"II*\x00")
    (tmp_path / "notes.md").write_text("skip me")
    return tmp_path


def test_folder_is_searched_recursively_for_documents(tree):
    found = resolve_inputs(str(tree))
    assert [p.removeprefix(str(tree)) for p in found] == ["/a.pdf", "/sub/b.PDF", "/sub/c.tif"]


def test_glob(tree):
    assert resolve_inputs(str(tree / "**" / "*.tif")) == [str(tree / "sub" / "c.tif")]


def test_list_file_keeps_missing_entries_for_error_rows(tree):
    listing = tree / "inputs.txt"
    listing.write_text("# comment\na.pdf\n\nsub/c.tif\n/nowhere/x.pdf\ns3://bucket/key.pdf\n")
    assert resolve_inputs(str(listing)) == [
        str(tree / "a.pdf"),
        str(tree / "sub" / "c.tif"),
        "/nowhere/x.pdf",
        "s3://bucket/key.pdf",
    ]


def test_single_file(tree):
    assert resolve_inputs(str(tree / "a.pdf")) == [str(tree / "a.pdf")]


def test_relative_paths_become_absolute_for_workers(tree, monkeypatch):
    monkeypatch.chdir(tree)
    assert resolve_inputs("sub") == [str(tree / "sub" / "b.PDF"), str(tree / "sub" / "c.tif")]


def test_nothing_found_says_what_was_looked_for(tmp_path):
    with pytest.raises(NoInputs, match="does not exist"):
        resolve_inputs(str(tmp_path / "missing"))
    with pytest.raises(NoInputs, match=r"matched no documents \(looked for .*\.pdf"):
        resolve_inputs(str(tmp_path))


def test_a_file_listed_twice_is_one_input(tmp_path, samples):
    listing = tmp_path / "inputs.txt"
    pdf = samples / "docs" / "mixed.pdf"
    listing.write_text(f"{pdf}\n{pdf}\n# again, relative:\n{os.path.relpath(pdf, tmp_path)}\n")
    assert resolve_inputs(str(listing)) == [str(pdf)]


def test_several_inputs_as_a_shell_expands_an_unquoted_glob(samples):
    """``pagemill run docs/*.pdf OUT`` arrives as many INPUTs: every one is read, once."""
    from pipelines.cli import build_parser

    pdfs = sorted(str(path) for path in (samples / "docs").glob("*.pdf"))
    args = build_parser().parse_args(["run", *pdfs, "out"])
    assert args.input == pdfs and args.output == "out"
    assert resolve_inputs([*pdfs, pdfs[0]]) == pdfs  # a file named twice is one document
    folder_and_file = resolve_inputs([str(samples / "docs"), pdfs[0]])
    assert folder_and_file == resolve_inputs(str(samples / "docs"))
