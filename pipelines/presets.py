"""Named starting points for ``pagemill run --preset NAME``: the settings that belong together for
one way of running, so a user does not have to rediscover them. A preset replaces the defaults;
any option given on the command line still wins, and ``--backend-option`` entries are merged
over the preset's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Preset:
    description: str
    options: dict[str, Any] = field(default_factory=dict)  # ``pagemill run`` option -> value
    backend_options: dict[str, str] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    "local-cpu": Preset(
        "laptop or CPU box: text layer where usable, Tesseract for the rest (the defaults)",
        {"backend": "tesseract", "route": "auto"},
    ),
    "single-gpu-vllm": Preset(
        "one GPU, a VLM in vLLM's offline engine (add --backend-option model=PATH); "
        "pages without a usable text layer go to the model, Tesseract is the fallback",
        {
            "backend": "vllm",
            "route": "auto",
            "rows_per_call": 64,
            "pool_size": 1,
            "image_format": "png",
        },
        {"gpu_memory_utilization": "0.85", "max_model_len": "16384", "max_num_seqs": "64"},
    ),
    "cluster-vllm": Preset(
        "a Ray cluster with GPU workers: one vLLM engine per GPU (add --backend-option "
        "model=PATH, on every node), more pages in flight to keep the GPUs fed",
        {
            "backend": "vllm",
            "route": "auto",
            "rows_per_call": 128,
            "max_inflight_mb": 4096,
            "image_format": "png",
        },
        {"gpu_memory_utilization": "0.9", "max_model_len": "16384", "max_num_seqs": "128"},
    ),
    "openai-endpoint": Preset(
        "a model served elsewhere over the OpenAI API (add --backend-option model=NAME and "
        "base_url=URL; the key comes from $OPENAI_API_KEY)",
        {"backend": "openai", "route": "auto", "rows_per_call": 32},
        {"max_concurrency": "16"},
    ),
}


def describe() -> str:
    """For ``--help``: one line per preset."""
    return "\n".join(f"  {name:16s} {preset.description}" for name, preset in PRESETS.items())
