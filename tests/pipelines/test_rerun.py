"""The resume command ``status`` prints reproduces the recorded run, and a resume that changes a
result setting says so."""

from __future__ import annotations

import json
import shlex

import pytest

from ops.routing import RouteMode
from pipelines.cli import build_parser, main
from pipelines.config import RunConfig
from pipelines.rerun import changed_result_settings, resume_argv


def recorded(**options) -> dict:
    options = {"input": "/in", "output": "/out", **options}
    return json.loads(json.dumps(RunConfig(**options).public_dict()))


def test_a_plain_run_resumes_with_a_plain_command():
    assert resume_argv(recorded(), "/out") == ["pagemill", "run", "/in", "/out"]
    assert resume_argv(recorded(backend="fake"), "/out")[4:] == ["--backend", "fake"]


def test_every_option_that_shaped_the_run_comes_back_and_parses_to_the_same_values(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("hunter2\n")
    config = recorded(
        input=("/in/a.pdf", "/in/b.pdf"),
        backend="fake",
        backend_options={"delay_ms": "5", "oom_above": "4"},
        route=RouteMode.OCR,
        dpi=200,
        min_text_score=0.7,
        page_timeout=None,
        rows_per_call=4,
        strict=True,
        fallback="none",
        password_file=str(secret),
        retry_failed=True,  # a one-off action, not repeated
        overwrite=True,  # never repeated: it would delete what the resume should finish
        progress=False,
    )
    argv = resume_argv(config, "/out")
    args = build_parser().parse_args(argv[1:])
    assert args.input == ["/in/a.pdf", "/in/b.pdf"] and args.output == "/out"
    assert (args.backend, args.route, args.dpi, args.min_text_score) == ("fake", "ocr", 200, 0.7)
    assert sorted(args.backend_option) == ["delay_ms=5", "oom_above=4"]
    assert args.page_timeout == 0 and args.rows_per_call == 4 and args.strict
    assert args.fallback == "none" and args.password_file == str(secret)
    assert "hunter2" not in " ".join(argv)
    assert not args.retry_failed and not args.overwrite


def test_a_resume_that_changes_result_settings_names_them():
    before, now = recorded(dpi=150), recorded(dpi=200, backend_options={"psm": "6"})
    assert changed_result_settings(before, now) == [
        "backend_options: {} -> {'psm': '6'}",
        "dpi: 150 -> 200",
    ]
    assert changed_result_settings(before, recorded(rows_per_file=10)) == []
    assert changed_result_settings({}, now) == []  # no earlier run


@pytest.mark.usefixtures("ray_cluster")
def test_status_prints_the_command_with_the_runs_options(samples, tmp_path, capsys):
    output = str(tmp_path / "out")
    argv = ["run", str(samples / "docs" / "broken-truncated.pdf"), output, "--no-progress"]
    argv += ["--backend", "fake", "--dpi", "120", "--route", "ocr"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["status", output, "--format", "json"]) == 0
    (command,) = json.loads(capsys.readouterr().out)["next_commands"]
    resumed = shlex.split(command.split("#")[0])
    assert resumed[resumed.index("--dpi") + 1] == "120" and "--route" in resumed
    assert "--retry-failed" in resumed

    assert main([*argv[:-1], "text"]) == 0  # the same output, another route
    assert "other settings (route: 'ocr' -> 'text')" in capsys.readouterr().err


def test_text_steps_are_a_result_setting_and_come_back_in_the_resume_command():
    from dataclasses import asdict

    default = asdict(RunConfig(input="in", output="out"))
    raw = {**default, "text_steps": "none"}
    assert "--text-steps" not in resume_argv(default, "out")
    assert resume_argv(raw, "out")[-2:] == ["--text-steps", "none"]
    assert changed_result_settings(default, raw) == ["text_steps: 'all' -> 'none'"]
