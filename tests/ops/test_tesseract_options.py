"""Tesseract's options are checked where the backend is made (before Ray starts), with the fix
in the message: a language without data used to fail in every worker as a tessdata path error."""

from __future__ import annotations

import pytest

from ops.backends.tesseract import TesseractBackend, installed_languages
from pipelines.cli import EXIT_OK, EXIT_USAGE, main


def test_the_installed_languages_are_the_wheels_data():
    assert "eng" in installed_languages() and "osd" not in installed_languages()


@pytest.mark.parametrize(
    ("options", "fix"),
    [
        ({"lang": "xyz"}, "pip install tessdata.xyz"),
        ({"lang": "eng+xyz"}, "no language data for xyz"),
        ({"psm": "abc"}, "psm=abc: expected a number"),
        ({"psm": "14"}, "page segmentation modes are 0-13"),
    ],
)
def test_bad_options_name_the_fix(options, fix):
    with pytest.raises(ValueError, match=fix.replace("+", r"\+")):
        TesseractBackend(**options)


def test_good_options_pass():
    assert TesseractBackend(lang="eng", psm="6").options == {"lang": "eng", "psm": 6}


def test_run_with_a_missing_language_is_a_usage_error_before_any_work(samples, tmp_path, capsys):
    output = tmp_path / "out"
    argv = ["run", str(samples / "docs"), str(output), "--backend-option", "lang=xyz"]
    assert main(argv) == EXIT_USAGE
    assert "pip install tessdata.xyz" in capsys.readouterr().err
    assert not output.exists()
    argv = ["run", str(samples / "docs"), str(output), "--fallback", "tesseract"]
    assert main([*argv, "--backend", "fake", "--fallback-option", "lang=xyz"]) == EXIT_USAGE
    assert "no language data for xyz" in capsys.readouterr().err
    assert not output.exists()


def test_languages_lists_what_is_installed(capsys):
    assert main(["languages"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "\n  eng\n" in out and "pip install tessdata.CODE" in out
