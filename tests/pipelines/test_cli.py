"""The ``pagemill`` command as a user runs it (in-process, on the session's Ray cluster)."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys

import pytest

from pipelines.cli import EXIT_STRICT, EXIT_USAGE, main

pytestmark = pytest.mark.usefixtures("ray_cluster")


@pytest.fixture(scope="module")
def converted(tmp_path_factory, samples):
    output = tmp_path_factory.mktemp("cli") / "out"
    code = main(
        [
            "run",
            str(samples / "docs" / "mixed.pdf"),
            str(output),
            "--no-progress",
            "--backend",
            "fake",
        ]
    )
    assert code == 0
    return output


def test_run_prints_a_summary_with_a_query_example(samples, tmp_path, capsys):
    output = tmp_path / "out"
    code = main(
        [
            "run",
            str(samples / "docs"),
            str(output),
            "--no-progress",
            "--backend",
            "fake",
            "--route",
            "ocr",
            "--orientation",
            "off",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "ocr/ok" in printed and "corrupt_pdf" in printed
    assert "pages/s" in printed and f"{output}/pages" in printed
    assert "pagemill query" in printed


def test_query_formats(converted, capsys):
    sql = "SELECT page_number, route FROM pages ORDER BY page_number"
    assert main(["query", str(converted), sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"page_number": 1, "route": "text"},
        {"page_number": 2, "route": "ocr"},
        {"page_number": 3, "route": "text"},
    ]
    assert main(["query", str(converted), sql, "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [["page_number", "route"], ["1", "text"], ["2", "ocr"], ["3", "text"]]
    assert main(["query", str(converted), sql]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["page_number", "|", "route"] and len(table) == 5


@pytest.mark.parametrize(
    "sql",
    [
        "DROP VIEW pages; DELETE FROM pages",
        "COPY (SELECT 1 AS x) TO 'OUT/pages/evil.parquet' (FORMAT parquet)",
        "ATTACH 'OUT/pages/evil.duckdb'",
        "SET enable_external_access = true",
        "SELECT * FROM read_csv('/etc/passwd')",
    ],
)
def test_query_cannot_modify_the_output_or_read_other_files(converted, capsys, sql):
    before = sorted(path.name for path in (converted / "pages").iterdir())
    assert main(["query", str(converted), sql.replace("OUT", str(converted))]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert "SELECT statements only" in error or "Permission" in error
    assert sorted(path.name for path in (converted / "pages").iterdir()) == before
    assert (
        main(["query", str(converted), "SELECT count(*) AS n FROM pages", "--format", "json"]) == 0
    )
    assert json.loads(capsys.readouterr().out) == [{"n": 3}]


def test_query_errors_are_clear(converted, tmp_path, capsys):
    assert main(["query", str(tmp_path), "SELECT 1"]) == EXIT_USAGE
    assert "no Parquet pages" in capsys.readouterr().err
    assert main(["query", str(converted), "SELEC nonsense"]) == EXIT_USAGE
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "/no/such/folder", "OUT"], "does not exist"),
        (["run", "SAMPLE", "/no/such/folder", "OUT"], "does not exist"),  # one of several
        (["run", "SAMPLE", "OUT", "--backend-option", "nonsense"], "KEY=VALUE"),
        (["run", "SAMPLE", "OUT", "--backend-option", "lingo=eng"], "has no option"),
        (["run", "SAMPLE", "OUT", "--backend-option", "psm=abc"], "psm=abc: expected a number"),
        (["run", "SAMPLE", "OUT", "--backend-option", "lang=xyz"], "pip install tessdata.xyz"),
        (["run", "SAMPLE", "OUT", "--batch-size", "16"], "cannot exceed --rows-per-call"),
        (["run", "SAMPLE", "OUT", "--batch-size", "0"], "at least 1, got 0"),
        (["run", "SAMPLE", "OUT", "--rows-per-call", "0"], "at least 1"),
        (["run", "SAMPLE", "OUT", "--dpi", "-5"], "--dpi: must be between 10 and 2400"),
        (["run", "SAMPLE", "OUT", "--dpi", "lots"], "--dpi: expected a whole number"),
        (["run", "SAMPLE", "OUT", "--min-text-score", "7"], "between 0 and 1, got 7"),
        (["run", "SAMPLE", "OUT", "--pages-per-unit", "0"], "--pages-per-unit: must be at least"),
        (["run", "SAMPLE", "OUT", "--max-attempts", "0"], "--max-attempts: must be at least 1"),
        (["run", "SAMPLE", "OUT", "--page-timeout", "-1"], "--page-timeout: must be at least 0"),
        (["run", "SAMPLE", "OUT", "--max-inflight-mb", "0"], "--max-inflight-mb: must be at"),
        (["run", "SAMPLE", "FILE"], "is a file; give a folder"),
        (["run", "SAMPLE", "OUT", "--fallback-option", "lang"], "--fallback-option expects"),
        (["run", "SAMPLE", "OUT", "--fallback-option", "lang=eng"], "needs a fallback engine"),
        (
            ["run", "SAMPLE", "OUT", "--fallback", "tesseract", "--fallback-option", "lingo=x"],
            "has no option",
        ),
        (["eval", "OUT", "--truth", "/nonexistent"], "--truth /nonexistent: no such file"),
        (["bench", "--text-pages", "0"], "--text-pages: must be at least 1"),
        (["bench", "--only", "text,bogus"], "unknown part bogus"),
    ],
)
def test_usage_errors_exit_2_with_a_reason(samples, tmp_path, capsys, argv, message):
    """Exit 2 before any work, the reason on one line, and nothing written where OUTPUT is."""
    output, file = tmp_path / "o", tmp_path / "a-file"
    file.write_text("not a folder")
    if argv[0] == "eval":
        (output / "pages").mkdir(parents=True)  # an output, so the truth is what is wrong
    before = sorted(tmp_path.rglob("*"))
    names = {"SAMPLE": str(samples / "docs" / "mixed.pdf"), "OUT": str(output), "FILE": str(file)}
    argv = [names.get(arg, arg) for arg in argv]
    try:
        code = main(argv)
    except SystemExit as stopped:  # argparse's own usage errors
        code = stopped.code
    assert code == EXIT_USAGE
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], errors
    assert sorted(tmp_path.rglob("*")) == before and file.read_text() == "not a folder"


def test_rerun_resumes_and_overwrite_starts_clean(samples, tmp_path, capsys):
    argv = [
        "run",
        str(samples / "docs" / "mixed.pdf"),
        str(tmp_path / "o"),
        "--no-progress",
        "--backend",
        "fake",
    ]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 0
    assert re.search(r"already done \(skipped\)\s*\|\s*3 pages", capsys.readouterr().out)
    assert main([*argv, "--overwrite"]) == 0
    assert "already done" not in capsys.readouterr().out


def test_strict_mode_fails_on_error_rows(samples, tmp_path, capsys):
    argv = [
        "run",
        str(samples / "docs" / "broken-truncated.pdf"),
        str(tmp_path / "o"),
        "--no-progress",
        "--backend",
        "fake",
    ]
    assert main(argv) == 0  # by default a bad file is an error row, not a failed job
    assert main([*argv, "--overwrite", "--strict"]) == EXIT_STRICT
    capsys.readouterr()
    # A resume with nothing left to do still judges the whole output, and says what failed.
    assert main([*argv, "--strict"]) == EXIT_STRICT
    err = capsys.readouterr().err
    assert "--strict:" in err and "1 documents that never opened" in err
    assert "corrupt_pdf: 1 rows, e.g. " in err and "broken-truncated.pdf" in err


def test_help_lists_backends_and_commands():
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "{fake,openai,rapidocr,tesseract,transformers,vllm}" in result.stdout
    assert "--batch-size" in result.stdout and "--fallback" in result.stdout
    assert "--password-file" in result.stdout
    top = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for command in ("run", "query", "bench"):
        assert command in top.stdout


@pytest.mark.parametrize("command", ["run", "eval", "bench"])
def test_help_states_each_default_once_and_never_as_none(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    printed = capsys.readouterr().out
    options = re.split(r"\n {2}(?=-)", printed)[1:]  # one block per option
    assert len(options) > 5
    for option in options:
        text = " ".join(option.split())  # help lines wrap anywhere
        for nothing in ("(default: None)", "(default: False)", "(default: True)"):
            assert nothing not in text, option
        assert text.count("(default:") <= 1, option
    if command == "run":
        assert "(default: 150)" in " ".join(printed.split())
