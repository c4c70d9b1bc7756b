"""The backend contract: what every OCR/model engine provides, not how it is scheduled.

A backend is one class in one file. It declares its options and resources as data, imports its
heavy dependencies only in :meth:`Backend.load` (so the driver and ``--help`` stay light), and
maps a batch of page images to the same number of results in the same order.
"""

from __future__ import annotations

import abc
import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PIL import Image

from ops.batching import BatchPolicy


@dataclass(frozen=True, slots=True)
class Resources:
    """What one loaded instance keeps busy; ``pipelines.scheduling`` turns it into Ray arguments."""

    cpus: float = 1.0
    gpus: float = 0.0  # per engine; fractions share a GPU (the engine must cap its own memory)
    env: Mapping[str, str] = field(default_factory=dict)  # process environment the engine needs
    gpu_optional: bool = False  # uses ``gpus`` where the cluster has GPUs, else runs on CPU
    # CPUs one engine keeps busy when a ``gpu_optional`` engine runs on CPU (default: ``cpus``)
    cpus_without_gpu: float | None = None


@dataclass(frozen=True, slots=True)
class OcrResult:
    text: str
    confidence: float | None = None  # engine-specific mean confidence, 0..100 where known
    # What generative (VLM) engines report; CPU OCR engines leave these unset.
    finish_reason: str | None = None
    input_tokens: int | None = None  # summed over attempts: what the page cost
    output_tokens: int | None = None
    attempts: int = 1
    problem: str | None = None  # why the text is unusable (truncated, repetition, empty)


class EngineGone(RuntimeError):
    """The engine behind a backend has died (its process exited, its device was lost): every
    later call would fail the same way, so the job stops with this cause instead of writing an
    error row for every page that follows."""


class MissingDependency(RuntimeError):
    """Raised on the driver, before any work starts, with the exact install command."""


class Backend(abc.ABC):
    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()  # importable module names
    extra: ClassVar[str | None] = None  # pip extra that installs ``requires``
    install_note: ClassVar[str] = ""  # what else to know about installing it, if anything
    resources: ClassVar[Resources] = Resources()
    option_defaults: ClassVar[Mapping[str, Any]] = {}
    # How rendered pages travel to this engine when the user does not say (``--image-format
    # auto``): lossless unless the engine has been measured to read JPEG pages just as well.
    page_image_format: ClassVar[str] = "png"
    # The forward batch: pages per engine call, adapted at run time (ops.batching). Engines that
    # read one page at a time gain nothing from bigger batches and settle at the initial size.
    batch_policy: ClassVar[BatchPolicy] = BatchPolicy()
    # Page rows Ray hands one actor per call (``--rows-per-call`` by default); it also caps the
    # forward batch. OCR engines read a page at a time and want small calls that spread over the
    # pool; engines that schedule their own batches (vLLM) or keep requests in flight (HTTP)
    # want many pages per call.
    rows_per_call: ClassVar[int] = 8
    # Engine that reads a page when this one's output stays unusable (generative engines only).
    fallback_backend: ClassVar[str | None] = None

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.option_defaults))
        if unknown:
            known = ", ".join(sorted(self.option_defaults)) or "none"
            raise ValueError(
                f"backend {self.name!r} has no option(s) {', '.join(unknown)}; known: {known}"
            )
        self.options: dict[str, Any] = {}
        for key, default in self.option_defaults.items():
            value = options.get(key, default)
            try:
                self.options[key] = _coerce(value, default)
            except ValueError:
                kind = "a number" if isinstance(default, (int, float)) else type(default).__name__
                raise ValueError(
                    f"backend {self.name!r} option {key}={value}: expected {kind} "
                    f"(default {default!r})"
                ) from None

    @classmethod
    def check_dependencies(cls) -> None:
        missing = [module for module in cls.requires if importlib.util.find_spec(module) is None]
        if missing:
            target = f"'pagemill[{cls.extra}]'" if cls.extra else "pagemill"
            raise MissingDependency(
                f"backend {cls.name!r} needs {', '.join(missing)}: pip install {target}"
                + (f" ({cls.install_note})" if cls.install_note else "")
            )

    def declared_resources(self) -> Resources:
        """What one engine with these options needs; most backends declare it on the class."""
        return self.resources

    @property
    @abc.abstractmethod
    def model(self) -> str:
        """Engine and model identity recorded on every row (e.g. ``tesseract-5.5.4/eng``)."""

    @abc.abstractmethod
    def load(self) -> None:
        """Import the engine and load its model; called once per worker process."""

    @abc.abstractmethod
    def predict_batch(self, images: Sequence[Image.Image]) -> list[OcrResult]:
        """One result per image, in order. Raise to signal failure; the caller isolates pages."""

    def close(self) -> None:  # noqa: B027 - optional hook; most engines need no teardown
        """Release engine resources."""


def _coerce(value: Any, default: Any) -> Any:
    """Options arrive as strings from the CLI; give them the type of their default."""
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    if isinstance(default, bool):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return type(default)(value)
