"""Packaging facts a user meets: ``pagemill --version``, and a wheel build without setuptools'
license deprecation warning (an SPDX string, which needs setuptools 77 or newer)."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from pipelines.cli import main

PROJECT = Path(__file__).resolve().parent.parent


def test_version_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.strip() == f"pagemill {metadata.version('pagemill')}"


def test_the_license_is_an_spdx_string_for_a_setuptools_that_reads_it():
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["license"] == "Apache-2.0"  # a table is deprecated
    (setuptools,) = [r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    minimum = re.fullmatch(r"setuptools>=(\d+)", setuptools)
    assert minimum and int(minimum.group(1)) >= 77
