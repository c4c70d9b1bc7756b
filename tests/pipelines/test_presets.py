"""Presets: named defaults that explicit options override, each valid for its backend."""

from __future__ import annotations

import pytest

from ops.backends import backend_class
from pipelines.cli import _with_preset, build_parser
from pipelines.config import RunConfig
from pipelines.presets import PRESETS


def parse(*argv: str):
    parser = build_parser()
    return _with_preset(parser, parser.parse_args(list(argv)), list(argv))


def test_a_preset_replaces_defaults_and_explicit_options_win():
    args = parse(
        "run", "in", "out", "--preset", "openai-endpoint", "--rows-per-call", "8",
        "--backend-option", "max_concurrency=4",
    )  # fmt: skip
    assert args.backend == "openai" and args.rows_per_call == 8
    assert args.preset_backend_options == {"max_concurrency": "16"}  # merged under the user's


def test_preset_backend_options_are_dropped_when_the_user_picks_another_backend():
    args = parse("run", "in", "out", "--preset", "single-gpu-vllm", "--backend", "openai")
    assert args.backend == "openai" and args.preset_backend_options == {}


def test_without_a_preset_nothing_changes():
    args = parse("run", "in", "out")
    assert args.backend == "tesseract" and args.preset_backend_options == {}


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_a_valid_configuration(name):
    preset = PRESETS[name]
    backend = backend_class(preset.options["backend"])
    options = dict(preset.backend_options)
    if "model" in backend.option_defaults:
        options["model"] = "some-model"
    backend(**options)  # unknown or bad options would raise
    config = RunConfig(input="in", output="out", preset=name, **preset.options)
    policy = config.batch_policy()
    assert policy.initial <= policy.maximum <= config.resolved_rows_per_call()
