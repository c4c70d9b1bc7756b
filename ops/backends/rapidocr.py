"""RapidOCR (PP-OCRv4 on ONNX Runtime), version 1.4.4 whose wheel carries its models.

Later ``rapidocr`` releases download models at run time, which pagemill never does.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from ops.backends.base import Backend, OcrResult, Resources
from ops.backends.registry import register

Box = Sequence[Sequence[float]]


@register
class RapidOcrBackend(Backend):
    name = "rapidocr"
    requires = ("rapidocr_onnxruntime",)
    extra = "rapidocr"
    resources = Resources(cpus=1.0)
    option_defaults: ClassVar[dict[str, Any]] = {"threads": 1, "text_score": 0.5}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._engine: Any = None

    @property
    def model(self) -> str:
        return "rapidocr-onnxruntime-1.4.4/PP-OCRv4"

    def load(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        threads = int(self.options["threads"])
        self._engine = RapidOCR(
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
            text_score=float(self.options["text_score"]),
        )

    def predict_batch(self, images: Sequence[Image.Image]) -> list[OcrResult]:
        results = []
        for image in images:
            # The angle classifier flips some upright lines on documents; orientation is handled
            # per page before this call instead.
            detections, _ = self._engine(np.asarray(image.convert("RGB")), use_cls=False)
            detections = detections or []
            text = assemble_lines([(box, text) for box, text, _score in detections])
            scores = [float(score) for _box, _text, score in detections]
            confidence = 100.0 * sum(scores) / len(scores) if scores else None
            results.append(OcrResult(text, confidence))
        return results

    def close(self) -> None:
        self._engine = None


def assemble_lines(items: Sequence[tuple[Box, str]]) -> str:
    """Join detected text boxes into lines (top to bottom, left to right within a line).

    Boxes whose vertical centres lie within half a typical box height of a line's centre belong to
    that line, which tolerates slightly skewed scans.
    """
    if not items:
        return ""
    boxes = []
    for box, text in items:
        ys = [point[1] for point in box]
        xs = [point[0] for point in box]
        boxes.append(((min(ys) + max(ys)) / 2, max(ys) - min(ys), min(xs), text))
    tolerance = 0.5 * median(height for _, height, _, _ in boxes)
    lines: list[list[tuple[float, float, float, str]]] = []
    for entry in sorted(boxes, key=lambda entry: entry[0]):
        if lines and abs(entry[0] - _centre(lines[-1])) <= tolerance:
            lines[-1].append(entry)
        else:
            lines.append([entry])
    return "\n".join(
        " ".join(entry[3] for entry in sorted(line, key=lambda e: e[2])) for line in lines
    )


def _centre(line: list[tuple[float, float, float, str]]) -> float:
    return sum(entry[0] for entry in line) / len(line)
