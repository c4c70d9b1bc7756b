"""The READMEs' command blocks against the code, so the docs cannot drift from it.

Every ``pagemill`` command line in a fenced ``bash`` block is checked against the real parser:
a concrete line must parse as written; a synopsis (``[options]``, ``INPUT``) may only name
options its command has. Blocks marked ``<!-- runnable -->`` are executed as a new user would,
from a scratch folder that holds only what the quick start needs (the samples, the project's
virtual environment, the Makefile and pyproject).
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
READMES = [REPO / "README.md", REPO / "cluster" / "README.md"]
RUNNABLE = "<!-- runnable -->"
# Lines of runnable blocks that are not run here, and why.
NOT_RUN_HERE = {"make test": "it is what CI runs (.ci/run), this test among it"}
COMMAND = re.compile(r"(?:^|\s)(?:\S*/)?(?:pagemill|python -m pipelines\.cli)\s+(\S+)(.*)$")
PLACEHOLDER = re.compile(r"\[|\]|\.\.\.|\||\b[A-Z][A-Z_]{2,}\b")


def bash_blocks(path: Path) -> list[tuple[int, bool, list[str]]]:
    """``(line number, runnable, lines)`` of each fenced bash block."""
    blocks, lines = [], path.read_text().splitlines()
    for number, line in enumerate(lines):
        if line.strip() != "```bash":
            continue
        end = lines.index("```", number + 1)
        before = next((text for text in reversed(lines[:number]) if text.strip()), "")
        blocks.append((number + 1, before.strip() == RUNNABLE, lines[number + 1 : end]))
    return blocks


def commands(block: list[str]) -> list[str]:
    """The block's commands: continuation lines (``\\`` or an indented synopsis) joined, shell
    comments dropped."""
    joined: list[str] = []
    for raw in block:
        line = raw.split("  #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if joined and (joined[-1].endswith("\\") or raw.startswith(" ")):
            joined[-1] = joined[-1].rstrip("\\").rstrip() + " " + line.strip()
        else:
            joined.append(line)
    return joined


def pagemill_lines() -> list[tuple[str, str]]:
    found = []
    for path in READMES:
        for number, _, block in bash_blocks(path):
            found += [(f"{path.name}:{number}", line) for line in commands(block)]
    return [(where, line) for where, line in found if COMMAND.search(line)]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize(("where", "line"), pagemill_lines())
def test_every_documented_command_parses(where, line):
    parser = build_parser()
    command, rest = COMMAND.search(line).groups()
    subcommands = _subcommands(parser)
    assert command in subcommands, f"{where}: no command {command!r}: {line}"
    if PLACEHOLDER.search(rest):  # a synopsis: its options must exist
        known = set(subcommands[command]._option_string_actions)
        if command == "submit":  # options after INPUT are run's
            known |= set(subcommands["run"]._option_string_actions)
        named = set(re.findall(r"(?<![\w-])--?[a-z][\w-]*", rest))
        assert named <= known, f"{where}: {sorted(named - known)} unknown to {command}: {line}"
        return
    try:
        parser.parse_args([command, *shlex.split(rest)])
    except SystemExit as exc:
        pytest.fail(f"{where}: does not parse (exit {exc.code}): {line}")


def test_the_readme_marks_the_quick_start_runnable():
    runnable = [block for _, marked, block in bash_blocks(REPO / "README.md") if marked]
    assert any("make run" in line for block in runnable for line in block)
    assert any("pagemill query out" in line for block in runnable for line in block)


@pytest.mark.slow
def test_the_runnable_blocks_run_as_written(tmp_path):
    # The project's environment must be current, as `make run` would leave it (a no-op when it
    # is; this never installs into the scratch folder).
    venv = Path(sys.prefix)
    subprocess.run(["make", "-C", str(REPO), "install", f"VENV={venv}"], check=True, timeout=600)
    for name in ("samples", "Makefile", "pyproject.toml"):
        (tmp_path / name).symlink_to(REPO / name)
    (tmp_path / ".venv").symlink_to(venv)
    for path in READMES:
        for number, runnable, block in bash_blocks(path):
            if not runnable:
                continue
            for line in commands(block):
                if line.strip() in NOT_RUN_HERE:
                    continue
                done = subprocess.run(
                    ["bash", "-euo", "pipefail", "-c", line],
                    cwd=tmp_path,
                    capture_output=True,
                    text=True,
                    timeout=600,
                    check=False,
                )
                assert done.returncode == 0, f"{path.name}:{number}: {line}\n{done.stderr[-3000:]}"
    assert (tmp_path / "out" / "pages").is_dir()
    assert (tmp_path / "out" / "_eval" / "index.html").is_file()
    assert (tmp_path / "out-export" / "markdown" / "mixed.md").is_file()
