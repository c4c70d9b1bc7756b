"""The part of every VLM backend that is not the engine call: prompt, image preparation, output
checks, and a retry at a higher temperature for pages whose output is unusable.

A subclass implements :meth:`VlmBackend.generate` (page images in, one :class:`Generation` each
out) and :meth:`load`; everything else, and therefore everything testable without a GPU, is here.
A page still unusable after ``max_attempts`` comes back with its ``problem`` set, and the OCR runner
sends it to the fallback engine (or makes it an error row).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar

from PIL import Image

from ops.backends.base import Backend, OcrResult, Resources
from ops.batching import BatchPolicy
from ops.vlm.images import DEFAULT_LONGEST_SIDE, is_blank, prepare_image
from ops.vlm.output import Generation, find_problem
from ops.vlm.prompt import resolve_prompt

# Options every VLM backend accepts, documented in the README's backend table.
VLM_OPTIONS: dict[str, Any] = {
    "prompt": "",  # replaces the default extraction prompt
    "prompt_file": "",  # a file holding the prompt
    "longest_side": DEFAULT_LONGEST_SIDE,  # page images are scaled down to this many pixels
    "max_pixels": 0,  # and to at most this many pixels (0: no limit)
    "max_tokens": 4096,  # generation budget per page; reaching it marks the page truncated
    "temperature": 0.0,
    "retry_temperature": 0.4,  # for the retry of a page whose output was unusable
    "max_attempts": 2,
}


class VlmBackend(Backend):
    # Model actors mostly wait on the accelerator (or the network): a small CPU share each.
    resources: ClassVar[Resources] = Resources(cpus=1.0)
    # Pages at the default size cost ~1.7 M pixels; the budget keeps a batch of big pages small.
    batch_policy: ClassVar[BatchPolicy] = BatchPolicy(
        initial=8, maximum=64, max_cost=64 * DEFAULT_LONGEST_SIDE * DEFAULT_LONGEST_SIDE
    )
    fallback_backend: ClassVar[str | None] = "tesseract"  # core dependency: always installed

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if int(self.options["max_attempts"]) < 1:
            raise ValueError("max_attempts must be at least 1")
        self.prompt = resolve_prompt(self.options["prompt"], self.options["prompt_file"])

    @abc.abstractmethod
    def generate(self, images: Sequence[Image.Image], temperature: float) -> list[Generation]:
        """One generation per prepared page image, in order."""

    def prepare(self, image: Image.Image) -> Image.Image:
        return prepare_image(
            image,
            int(self.options["longest_side"]) or None,
            int(self.options["max_pixels"]) or None,
        )

    def predict_batch(self, images: Sequence[Image.Image]) -> list[OcrResult]:
        prepared = [self.prepare(image) for image in images]
        blank = [is_blank(image) for image in images]
        results: list[OcrResult | None] = [None] * len(images)
        tokens_in = [0] * len(images)
        tokens_out = [0] * len(images)
        pending = list(range(len(images)))
        for attempt in range(1, int(self.options["max_attempts"]) + 1):
            temperature = float(
                self.options["temperature"] if attempt == 1 else self.options["retry_temperature"]
            )
            generations = self.generate([prepared[index] for index in pending], temperature)
            if len(generations) != len(pending):
                raise RuntimeError(
                    f"{self.name} returned {len(generations)} generations for {len(pending)} pages"
                )
            retry = []
            for index, generation in zip(pending, generations, strict=True):
                tokens_in[index] += generation.input_tokens or 0
                tokens_out[index] += generation.output_tokens or 0
                problem = find_problem(generation, blank[index])
                results[index] = OcrResult(
                    generation.text.strip(),
                    finish_reason=generation.finish_reason,
                    input_tokens=tokens_in[index] if generation.input_tokens is not None else None,
                    output_tokens=(
                        tokens_out[index] if generation.output_tokens is not None else None
                    ),
                    attempts=attempt,
                    problem=None if problem is None else str(problem),
                )
                if problem is not None:
                    retry.append(index)
            pending = retry
            if not pending:
                break
        return [result for result in results if result is not None]
