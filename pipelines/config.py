"""Typed run configuration; the CLI builds one of these and the public API accepts it directly."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ops.backends import backend_class
from ops.batching import BatchPolicy
from ops.flight import IsolationSettings
from ops.imaging import DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_PIXELS
from ops.layout.steps import ALL as ALL_STEPS
from ops.layout.steps import TextSteps
from ops.pages import ExtractOptions
from ops.passwords import Passwords, read_password_map
from ops.routing import RouteMode, RoutingPolicy

PASSWORD_ENV = "PAGEMILL_PASSWORD"  # the default password, when neither flag gives one


def default_password(password: str | None, password_file: str | None) -> str | None:
    """--password, else --password-file's first line, else $PAGEMILL_PASSWORD."""
    if password is not None:
        return password
    if password_file:
        lines = Path(password_file).read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    return os.environ.get(PASSWORD_ENV) or None


def passwords(
    password: str | None, password_file: str | None, password_map: str | None
) -> Passwords:
    """The passwords the three flags (and the environment) give; a map that cannot be read is a
    ValueError that names the file and quotes no password."""
    return Passwords(
        default_password(password, password_file),
        read_password_map(password_map) if password_map else (),
    )


@dataclass(frozen=True)
class RunConfig:
    input: str | tuple[str, ...]  # several: what a shell makes of an unquoted glob
    output: str
    backend: str = "tesseract"
    backend_options: dict[str, str] = field(default_factory=dict)
    route: RouteMode = RouteMode.AUTO
    min_text_score: float = 0.5
    dpi: int = 150
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    orientation: str = "auto"  # auto | always | off (see ops.ocr.Orientation)
    image_format: str = "auto"  # auto (the backend's choice) | png | jpeg
    pages_per_unit: int = 32
    rows_per_call: int | None = None  # rows per Ray call to an OCR actor; default: the backend's
    batch_size: int | None = None  # first forward batch (pages per engine call); adapts
    max_batch_size: int | None = None  # most pages per engine call (default: rows_per_call)
    fallback: str = "auto"  # engine for pages a model keeps failing: auto (backend's) | none | name
    fallback_options: dict[str, str] = field(default_factory=dict)  # e.g. lang=deu (tesseract)
    pool_size: int | None = None  # most OCR actors; default: one per CPU core (starts with one)
    rows_per_file: int = 50_000
    max_inflight_mb: int = 512  # object-store memory for pages between stages, per job
    password: str | None = field(default=None, repr=False)
    password_file: str | None = None
    password_map: str | None = None  # JSON {pattern: password}, tried before the password
    overwrite: bool = False  # delete what earlier runs wrote; default: resume them
    retry_failed: bool = False  # on resume, redo pages (and documents) whose row is an error
    strict: bool = False
    address: str | None = None  # attach to this Ray cluster; default: RAY_ADDRESS or a local one
    num_cpus: int | None = None  # CPUs for a local Ray instance
    gpus: float | None = None  # GPUs the job uses; default: all the cluster advertises
    progress: bool = True
    page_timeout: float | None = 120.0  # hard limit per page render / engine page; None: off
    document_timeout: float | None = 600.0  # hard limit on opening one document
    page_memory: int | None = 2048  # MB a page may add to its worker in pdfium; None: off
    max_attempts: int = 2  # worker deaths a page may cause before it becomes an error row
    preset: str | None = None  # recorded in the manifest; the CLI applied its values
    metrics_port: int | None = None  # a locally started Ray serves Prometheus metrics here
    price_per_core_hour: float | None = None  # for the summary's price per million pages
    price_per_gpu_hour: float | None = None
    text_steps: str = ALL_STEPS  # clean-up steps for page text: all | none | a comma list

    def resolved_text_steps(self) -> TextSteps:
        return TextSteps.parse(self.text_steps)

    def resolved_password(self) -> str | None:
        return default_password(self.password, self.password_file)

    def extract_options(self) -> ExtractOptions:
        return ExtractOptions(
            dpi=self.dpi,
            max_pixels=self.max_pixels,
            max_image_pixels=self.max_image_pixels,
            routing=RoutingPolicy(mode=RouteMode(self.route), min_score=self.min_text_score),
            passwords=passwords(self.password, self.password_file, self.password_map),
            pages_per_unit=self.pages_per_unit,
            image_format=self.resolved_image_format(),
            text_steps=self.resolved_text_steps(),
        )

    def isolation(self, recorder: str) -> IsolationSettings:
        if self.max_attempts < 1:
            raise ValueError(f"--max-attempts must be at least 1, got {self.max_attempts}")
        return IsolationSettings(
            recorder=recorder,
            page_timeout_s=self.page_timeout or None,
            document_timeout_s=self.document_timeout or None,
            page_memory_mb=self.page_memory or None,
            max_attempts=self.max_attempts,
        )

    def resolved_rows_per_call(self) -> int:
        """``rows_per_call``, else the backend's default for it."""
        rows = self.rows_per_call
        if rows is None:
            rows = backend_class(self.backend).rows_per_call
        if rows < 1:
            raise ValueError(f"--rows-per-call must be at least 1, got {rows}")
        return rows

    def batch_policy(self) -> BatchPolicy:
        """The backend's forward-batch policy with the user's sizes; a forward batch cannot hold
        more pages than one Ray call brings, so the rows per call bound it."""
        default = backend_class(self.backend).batch_policy
        rows_per_call = self.resolved_rows_per_call()
        if self.batch_size is not None and self.batch_size > rows_per_call:
            raise ValueError(
                f"--batch-size ({self.batch_size}) cannot exceed --rows-per-call "
                f"({rows_per_call}): raise --rows-per-call as well"
            )
        maximum = rows_per_call if self.max_batch_size is None else self.max_batch_size
        maximum = min(maximum, rows_per_call)
        initial = min(default.initial, maximum) if self.batch_size is None else self.batch_size
        return replace(default, initial=initial, maximum=max(initial, maximum))

    def resolved_fallback(self) -> str | None:
        """The fallback engine's name, or None; checked against the registry."""
        if self.fallback == "none":
            name = None
        elif self.fallback == "auto":
            name = backend_class(self.backend).fallback_backend
        else:
            name = self.fallback
        if name is None:
            if self.fallback_options:
                raise ValueError("--fallback-option needs a fallback engine (see --fallback)")
            return None
        engine = backend_class(name)
        engine.check_dependencies()
        engine(**self.fallback_options)  # unknown or bad options fail here, before any work
        return name

    def resolved_image_format(self) -> str:
        if self.image_format != "auto":
            return self.image_format
        return backend_class(self.backend).page_image_format

    def input_specs(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)

    def public_dict(self) -> dict[str, Any]:
        """The config as recorded in manifests: secrets never appear, only whether one was set."""
        data = asdict(self)
        # Whether a default password was in effect, from whichever source (flag, file or
        # $PAGEMILL_PASSWORD), never what it is.
        data["password"] = "<set>" if self.resolved_password() is not None else None
        data["route"] = str(self.route)
        data["image_format"] = self.resolved_image_format()
        data["rows_per_call"] = self.resolved_rows_per_call()
        return data
