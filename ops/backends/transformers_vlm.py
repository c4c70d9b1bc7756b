"""Vision-language models run in-process with PyTorch and ``transformers``: any image-text-to-text
model saved locally (olmOCR, Qwen2-VL, Qwen2.5-VL and relatives), on CUDA when the actor has a GPU,
on CPU otherwise.

Weights are never downloaded at run time: ``model`` must be a local folder (or a model id already
in the local Hugging Face cache). Pages of a batch are padded on the left, so one ``generate`` call
reads them all; out-of-memory errors propagate to the adaptive batcher, which splits the batch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from PIL import Image

from ops.backends.base import Resources
from ops.backends.registry import register
from ops.batching import is_out_of_memory
from ops.vlm.backend import VLM_OPTIONS, VlmBackend
from ops.vlm.output import Generation
from ops.vlm.prompt import render_chat_prompt

DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True, slots=True)
class Decoded:
    """How many tokens one row of ``generate`` output holds, and why it stopped."""

    tokens: list[int]
    finish_reason: str


def split_generated(row: Sequence[int], stop_ids: frozenset[int], max_new_tokens: int) -> Decoded:
    """The generated tokens of one page up to (not including) its first stop token, and why
    generation ended: ``stop`` at a stop token, ``length`` when the token budget ran out. A row
    that stopped early is padded after its stop token, so nothing after it is text."""
    for position, token in enumerate(row):
        if token in stop_ids:
            return Decoded([int(t) for t in row[:position]], "stop")
    return Decoded([int(t) for t in row], "length" if len(row) >= max_new_tokens else "stop")


@register
class TransformersBackend(VlmBackend):
    name = "transformers"
    requires = ("torch", "transformers")
    extra = "transformers"
    # One GPU per engine where the cluster has GPUs; a CPU engine otherwise.
    resources: ClassVar[Resources] = Resources(cpus=1.0, gpus=1.0, gpu_optional=True)
    option_defaults: ClassVar[dict[str, Any]] = {
        **VLM_OPTIONS,
        "model": "",  # a local folder with the model and its processor
        "device": "auto",  # auto (cuda if the actor has a GPU) | cuda | cpu
        "dtype": "auto",  # auto: bfloat16 on CUDA, float32 on CPU
        "seed": 0,  # for sampled retries: the same input gives the same output
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.options["model"]:
            raise ValueError(
                "backend 'transformers' needs a model folder: --backend-option model=PATH"
            )
        if self.options["dtype"] not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}")
        self._model: Any = None
        self._processor: Any = None
        self._device = "cpu"
        self._chat_prompt = ""
        self._stop_ids: frozenset[int] = frozenset()

    @property
    def model(self) -> str:
        return os.path.basename(str(self.options["model"]).rstrip("/")) or "model"

    def declared_resources(self) -> Resources:
        if self.options["device"] == "cpu":
            return Resources(cpus=1.0)
        if self.options["device"] == "cuda":
            return Resources(cpus=1.0, gpus=1.0)
        return self.resources

    def load(self) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        wanted = self.options["device"]
        self._device = "cuda" if wanted == "cuda" or (wanted == "auto" and _has_cuda()) else "cpu"
        dtype_name = self.options["dtype"]
        if dtype_name == "auto":
            dtype_name = "bfloat16" if self._device == "cuda" else "float32"
        path = str(self.options["model"])
        try:
            self._processor = AutoProcessor.from_pretrained(path, local_files_only=True)
            self._model = AutoModelForImageTextToText.from_pretrained(
                path, dtype=getattr(torch, dtype_name), local_files_only=True
            )
        except OSError as exc:
            raise OSError(
                f"cannot load model {path!r} from local files ({exc}); pagemill never downloads "
                "weights at run time: download the model first (e.g. `hf download "
                "allenai/olmOCR-7B-0725 --local-dir models/olmocr`) and pass its folder"
            ) from exc
        self._model.to(self._device).eval()
        self._processor.tokenizer.padding_side = "left"
        self._chat_prompt = render_chat_prompt(self._processor, self.prompt)
        self._stop_ids = _stop_ids(self._model.generation_config, self._processor.tokenizer)

    def generate(self, images: Sequence[Image.Image], temperature: float) -> list[Generation]:
        import torch

        assert self._model is not None, "load() first"
        inputs = self._processor(
            text=[self._chat_prompt] * len(images),
            images=list(images),
            padding=True,
            return_tensors="pt",
        ).to(self._device)
        max_new_tokens = int(self.options["max_tokens"])
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            torch.manual_seed(int(self.options["seed"]))
            sampling = {"do_sample": True, "temperature": temperature}
        try:
            with torch.inference_mode():
                output = self._model.generate(**inputs, max_new_tokens=max_new_tokens, **sampling)
        except Exception as exc:
            if self._device == "cuda" and is_out_of_memory(exc):
                torch.cuda.empty_cache()  # leave room for the smaller batch the batcher tries
            raise
        prompt_lengths = inputs["attention_mask"].sum(dim=1).tolist()
        new_tokens = output[:, inputs["input_ids"].shape[1] :].tolist()
        generations = []
        for row, prompt_length in zip(new_tokens, prompt_lengths, strict=True):
            decoded = split_generated(row, self._stop_ids, max_new_tokens)
            text = self._processor.tokenizer.decode(decoded.tokens, skip_special_tokens=True)
            generations.append(
                Generation(text, decoded.finish_reason, int(prompt_length), len(decoded.tokens))
            )
        return generations

    def close(self) -> None:
        self._model = None
        self._processor = None
        if self._device == "cuda":
            import torch

            torch.cuda.empty_cache()


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _stop_ids(generation_config: Any, tokenizer: Any) -> frozenset[int]:
    eos = generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return frozenset(int(token) for token in ids)
