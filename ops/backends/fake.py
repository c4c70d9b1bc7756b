"""A deterministic engine that needs nothing installed: for smoke runs on a new cluster, for
notebooks, and for tests of everything around the engine call.

Its text is a function of the page pixels, so identical pages give identical text and a changed
page changes it; ``delay_ms`` simulates a slow model and ``oom_above`` a model that runs out of
memory on batches of more than that many pages. With ``gpus`` set it asks Ray for that share of a
GPU per engine and names the device it was given in its ``model`` (``fake-1@cuda:0``): a smoke
test of GPU scheduling on a cluster, without a model.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from PIL import Image

from ops.backends.base import Backend, OcrResult, Resources
from ops.backends.registry import register
from ops.batching import OutOfMemory


@register
class FakeBackend(Backend):
    name = "fake"
    resources = Resources(cpus=1.0)
    option_defaults: ClassVar[dict[str, Any]] = {"delay_ms": 0.0, "oom_above": 0, "gpus": 0.0}

    def declared_resources(self) -> Resources:
        return Resources(cpus=1.0, gpus=float(self.options["gpus"]))

    @property
    def model(self) -> str:
        if float(self.options["gpus"]) > 0:
            return f"fake-1@cuda:{os.environ.get('CUDA_VISIBLE_DEVICES', '')}"
        return "fake-1"

    def load(self) -> None:
        """Nothing to load."""

    def predict_batch(self, images: Sequence[Image.Image]) -> list[OcrResult]:
        limit = int(self.options["oom_above"])
        if limit and len(images) > limit:
            raise OutOfMemory(f"fake engine: a batch of {len(images)} pages exceeds {limit}")
        results = []
        for image in images:
            if self.options["delay_ms"]:
                time.sleep(float(self.options["delay_ms"]) / 1000.0)
            digest = hashlib.sha1(image.tobytes()).hexdigest()[:12]
            results.append(OcrResult(f"fake page {image.width}x{image.height} {digest}", 100.0))
        return results
