"""The ``pagemill run`` command line that reproduces a recorded run, and the settings a resume
must not change silently.

A manifest records the run's effective configuration (``RunConfig.public_dict``). ``status``
prints the command that finishes an output from it: every option that differs from what a plain
``pagemill run`` with the same backend would use, so the pending pages are read as the first
ones were (same dpi, route, engine options...). A password is never in a manifest: a
``--password-file`` or ``$PAGEMILL_PASSWORD`` is repeated, a ``--password`` must be retyped.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from pipelines.config import RunConfig

# Settings that change what a page's row holds: a resume that changes one mixes two kinds of
# rows in one output.
RESULT_SETTINGS = (
    "backend",
    "backend_options",
    "route",
    "min_text_score",
    "dpi",
    "orientation",
    "text_steps",
)
# Not options of a resume: where it reads and writes, secrets, and one-off actions.
_NOT_REPEATED = {"input", "output", "password", "overwrite", "retry_failed", "preset", "progress"}
_LIST_FLAGS = {"backend_options": "--backend-option", "fallback_options": "--fallback-option"}
_FLAG_FIELDS = {"strict"}  # on/off flags without a value
_OFF_WHEN_NONE = {"page_timeout", "document_timeout", "page_memory"}  # None is written 0


def resume_argv(recorded: dict[str, Any], output: str) -> list[str]:
    """``pagemill run INPUT... OUTPUT [options]`` for the run ``recorded`` (a manifest's
    ``config``)."""
    inputs = recorded.get("input", "INPUT")
    argv = ["pagemill", "run", *([inputs] if isinstance(inputs, str) else inputs), output]
    if recorded.get("preset"):
        argv += ["--preset", str(recorded["preset"])]
    # What a plain run with this backend records (its rows per call, its image format), but
    # the backend itself compared with the default one.
    plain = RunConfig(input="x", output="y", backend=recorded.get("backend", "tesseract"))
    defaults = {**plain.public_dict(), "backend": RunConfig("x", "y").backend}
    for spec in fields(RunConfig):
        name = spec.name
        if name in _NOT_REPEATED or name not in recorded:
            continue
        value, default = recorded[name], defaults.get(name)
        if value == default:
            continue
        flag = "--" + name.replace("_", "-")
        if name in _LIST_FLAGS:
            for key, option in sorted((value or {}).items()):
                argv += [_LIST_FLAGS[name], f"{key}={option}"]
        elif name in _FLAG_FIELDS:
            argv += [flag] if value else []
        elif value is None:
            argv += [flag, "0"] if name in _OFF_WHEN_NONE else []
        else:
            argv += [flag, str(value)]
    return argv


def changed_result_settings(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """``name: old -> new`` for each result setting a resume would change."""
    return [
        f"{name}: {before[name]!r} -> {now.get(name)!r}"
        for name in RESULT_SETTINGS
        if name in before and before[name] != now.get(name)
    ]
