"""Error kinds that become error rows.

A failing page or document is data, not an exception that escapes a Ray task: the pipeline catches
these and writes a row whose ``error_type`` is one of the stable identifiers below, so users can
group and retry by kind.
"""

from __future__ import annotations


class PageError(Exception):
    """A failure that belongs in an error row.

    ``error_type`` is a short stable identifier (``corrupt_pdf``, ``encrypted``, ...); the message
    says what happened and, where possible, what to do about it.
    """

    error_type = "internal"

    def __init__(self, message: str, *, error_type: str | None = None) -> None:
        super().__init__(message)
        if error_type is not None:
            self.error_type = error_type


class UnreadableInput(PageError):
    error_type = "read_failed"


class NotAPdf(PageError):
    error_type = "not_a_pdf"


class EmptyFile(PageError):
    error_type = "empty_file"


class CorruptPdf(PageError):
    error_type = "corrupt_pdf"


class EncryptedPdf(PageError):
    error_type = "encrypted"


class ZeroPages(PageError):
    error_type = "zero_pages"


class PageLoadFailed(PageError):
    error_type = "page_load_failed"


class RenderFailed(PageError):
    error_type = "render_failed"


class ImageDecodeFailed(PageError):
    error_type = "image_decode_failed"


class OcrFailed(PageError):
    error_type = "ocr_failed"


class DegenerateOutput(PageError):
    """The model's output stayed unusable (truncated, runaway, empty) and no fallback is set."""

    error_type = "degenerate_output"


class PageTooBigForEngine(PageError):
    """The engine ran out of memory on this page alone, in a batch of one."""

    error_type = "out_of_memory"


def describe(exc: BaseException) -> tuple[str, str]:
    """``(error_type, message)`` for any exception, keeping unexpected ones distinguishable."""
    if isinstance(exc, PageError):
        return exc.error_type, str(exc)
    return "internal", f"{type(exc).__name__}: {exc}"
