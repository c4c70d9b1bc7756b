"""A deterministic engine that needs nothing installed: for smoke runs on a new cluster, for
notebooks, and for tests of everything around the engine call — including what happens when an
engine misbehaves.

Its text is a function of the page pixels, so identical pages give identical text and a changed
page changes it. Faults are injected by option, for chosen pages (``PAGES``: comma-separated page
numbers, ``name:3`` for page 3 of files whose name starts with ``name``, or ``*`` for every page):

* ``raise_on=PAGES`` raises an exception (an ordinary engine error: the page becomes an error row);
* ``crash_on=PAGES`` segfaults the process (a native crash: Ray restarts the actor);
* ``hang_on=PAGES`` never returns; with ``hang_holds_gil=true`` it blocks inside C code holding
  the GIL, the worst case for a deadline;
* ``slow_on=PAGES`` adds ``slow_ms`` to each such page, ``delay_ms`` to every page;
* ``oom_above=N`` runs out of memory on batches of more than N pages;
* ``crash_on_load=true`` segfaults while loading (an engine that cannot start);
* ``degenerate_on=PAGES`` answers with nothing usable, as a generative model whose output stayed
  empty after its retries: the runner sends such pages to the fallback engine.

With ``gpus`` set it asks Ray for that share of a GPU per engine and names the device it was given
in its ``model`` (``fake-1@cuda:0``): a smoke test of GPU scheduling on a cluster, without a model.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import time
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any, ClassVar

from PIL import Image

from ops.backends.base import Backend, OcrResult, Resources
from ops.backends.registry import register
from ops.batching import OutOfMemory


@register
class FakeBackend(Backend):
    name = "fake"
    resources = Resources(cpus=1.0)
    option_defaults: ClassVar[dict[str, Any]] = {
        "delay_ms": 0.0,
        "oom_above": 0,
        "gpus": 0.0,
        "raise_on": "",
        "crash_on": "",
        "hang_on": "",
        "hang_holds_gil": False,
        "slow_on": "",
        "slow_ms": 1000.0,
        "crash_on_load": False,
        "degenerate_on": "",
    }

    def declared_resources(self) -> Resources:
        return Resources(cpus=1.0, gpus=float(self.options["gpus"]))

    @property
    def model(self) -> str:
        if float(self.options["gpus"]) > 0:
            return f"fake-1@cuda:{os.environ.get('CUDA_VISIBLE_DEVICES', '')}"
        return "fake-1"

    def load(self) -> None:
        if self.options["crash_on_load"]:
            _segfault()

    def predict_batch(self, images: Sequence[Image.Image]) -> list[OcrResult]:
        limit = int(self.options["oom_above"])
        if limit and len(images) > limit:
            raise OutOfMemory(f"fake engine: a batch of {len(images)} pages exceeds {limit}")
        results = []
        for image in images:
            self._misbehave(image)
            if self.options["delay_ms"]:
                time.sleep(float(self.options["delay_ms"]) / 1000.0)
            if _chosen(self.options["degenerate_on"], image):
                results.append(OcrResult("", problem="empty"))
                continue
            digest = hashlib.sha1(image.tobytes()).hexdigest()[:12]
            results.append(OcrResult(f"fake page {image.width}x{image.height} {digest}", 100.0))
        return results

    def _misbehave(self, image: Image.Image) -> None:
        if _chosen(self.options["raise_on"], image):
            raise RuntimeError(f"fake engine: injected failure on {_describe(image)}")
        if _chosen(self.options["crash_on"], image):
            _segfault()
        if _chosen(self.options["hang_on"], image):
            _hang(holding_gil=bool(self.options["hang_holds_gil"]))
        if _chosen(self.options["slow_on"], image):
            time.sleep(float(self.options["slow_ms"]) / 1000.0)


def _chosen(spec: str, image: Image.Image) -> bool:
    """Whether ``spec`` (see the module docstring) names this page. The OCR runner puts the page's
    ``source_uri`` and ``page_number`` in ``image.info``."""
    if not spec:
        return False
    number = image.info.get("page_number")
    name = PurePosixPath(str(image.info.get("source_uri", ""))).name
    for part in (piece.strip() for piece in spec.split(",")):
        if part == "*":
            return True
        prefix, _, page = part.rpartition(":")
        if page.isdigit() and number == int(page) and name.startswith(prefix):
            return True
    return False


def _describe(image: Image.Image) -> str:
    return f"page {image.info.get('page_number')} of {image.info.get('source_uri')}"


def _segfault() -> None:
    ctypes.string_at(0)  # reads address 0: SIGSEGV, as a native engine bug would


def _hang(holding_gil: bool) -> None:
    if holding_gil:  # a C call made through PyDLL keeps the GIL: no Python thread runs again
        ctypes.PyDLL(None).sleep(1_000_000)
    while True:
        time.sleep(3600)
