"""vLLM's offline engine inside the actor: the fastest way to run a VLM page reader on GPUs.

``vllm.LLM`` holds the model and schedules the pages of a batch itself (continuous batching, paged
KV cache), so a forward batch here is simply the set of requests handed to one ``generate`` call.
The engine's memory is capped by ``gpu_memory_utilization`` (Ray does not isolate GPU memory), and
``tensor_parallel_size`` GPUs are reserved per engine.

This file needs a CUDA machine with vLLM installed (``pip install 'pagemill[vllm]'``). Everything
around the engine call (prompt, images, output checks, retries, batching, scheduling) is shared
with the other VLM backends and tested on CPU; the engine call itself is exercised only by the
``gpu``-marked test, which this project's CI does not run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from PIL import Image

from ops.backends.base import Resources
from ops.backends.registry import register
from ops.batching import BatchPolicy
from ops.vlm.backend import VLM_OPTIONS, VlmBackend
from ops.vlm.output import Generation
from ops.vlm.prompt import render_chat_prompt


@register
class VllmBackend(VlmBackend):
    name = "vllm"
    requires = ("vllm", "transformers")
    extra = "vllm"
    resources: ClassVar[Resources] = Resources(cpus=1.0, gpus=1.0)
    # vLLM batches internally; hand it many pages per call and let memory errors shrink that.
    batch_policy: ClassVar[BatchPolicy] = BatchPolicy(initial=64, maximum=512)
    option_defaults: ClassVar[dict[str, Any]] = {
        **VLM_OPTIONS,
        "model": "",  # local folder (weights are never downloaded at run time)
        "gpu_memory_utilization": 0.85,
        "max_model_len": 16384,
        "max_num_seqs": 64,
        "tensor_parallel_size": 1,
        "dtype": "auto",
        "seed": 0,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.options["model"]:
            raise ValueError("backend 'vllm' needs a model folder: --backend-option model=PATH")
        if not 0.0 < float(self.options["gpu_memory_utilization"]) <= 1.0:
            raise ValueError("gpu_memory_utilization must be in (0, 1]")
        if int(self.options["tensor_parallel_size"]) < 1:
            raise ValueError("tensor_parallel_size must be at least 1")
        self._llm: Any = None
        self._chat_prompt = ""

    @property
    def model(self) -> str:
        return str(self.options["model"]).rstrip("/").rsplit("/", 1)[-1] or "model"

    def declared_resources(self) -> Resources:
        return Resources(cpus=1.0, gpus=float(self.options["tensor_parallel_size"]))

    def engine_kwargs(self) -> dict[str, Any]:
        """Arguments for ``vllm.LLM``: the options users set, plus one image per prompt."""
        return {
            "model": str(self.options["model"]),
            "gpu_memory_utilization": float(self.options["gpu_memory_utilization"]),
            "max_model_len": int(self.options["max_model_len"]),
            "max_num_seqs": int(self.options["max_num_seqs"]),
            "tensor_parallel_size": int(self.options["tensor_parallel_size"]),
            "dtype": str(self.options["dtype"]),
            "seed": int(self.options["seed"]),
            "limit_mm_per_prompt": {"image": 1},
        }

    def load(self) -> None:
        from transformers import AutoProcessor
        from vllm import LLM

        path = str(self.options["model"])
        processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        self._chat_prompt = render_chat_prompt(processor, self.prompt)
        self._llm = LLM(**self.engine_kwargs())

    def requests(self, images: Sequence[Image.Image]) -> list[dict[str, Any]]:
        """One vLLM prompt per page: the rendered chat prompt and the page as its image."""
        return [
            {"prompt": self._chat_prompt, "multi_modal_data": {"image": image}} for image in images
        ]

    def generate(self, images: Sequence[Image.Image], temperature: float) -> list[Generation]:
        from vllm import SamplingParams

        assert self._llm is not None, "load() first"
        params = SamplingParams(
            temperature=temperature,
            max_tokens=int(self.options["max_tokens"]),
            seed=int(self.options["seed"]) if temperature > 0 else None,
        )
        outputs = self._llm.generate(self.requests(images), params, use_tqdm=False)
        return [to_generation(output) for output in outputs]

    def close(self) -> None:
        self._llm = None


def to_generation(output: Any) -> Generation:
    """A ``vllm.RequestOutput`` as a :class:`Generation` (text, finish reason, token counts)."""
    completion = output.outputs[0]
    prompt_tokens = getattr(output, "prompt_token_ids", None)
    return Generation(
        text=completion.text,
        finish_reason=completion.finish_reason,
        input_tokens=len(prompt_tokens) if prompt_tokens is not None else None,
        output_tokens=len(completion.token_ids),
    )
