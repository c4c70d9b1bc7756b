"""The OCR engines for real, on real scans, with CER bounds; the registry and contract."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from ops.backends import Backend, MissingDependency, create, names, register
from ops.backends.base import OcrResult
from ops.backends.rapidocr import assemble_lines
from ops.orientation import OrientationDetector, upright
from tests.cer import cer


def load(name: str, **options) -> Backend:
    backend = create(name, options)
    backend.load()
    return backend


@pytest.fixture(scope="module")
def scans(shared_data):
    folder = shared_data / "gt_scanned" / "tesseract_test"
    return {
        "phototest": (
            Image.open(folder / "phototest.tif").convert("L"),
            (folder / "phototest.gold.txt").read_text(),
        ),
        "eurotext": (
            Image.open(folder / "eurotext.tif").convert("L"),
            (folder / "eurotext.txt").read_text(),
        ),
    }


# Bounds from the engines' measured CER on these pages (engines.md) plus headroom.
@pytest.mark.parametrize(
    ("backend", "page", "max_cer"),
    [
        ("tesseract", "phototest", 0.02),
        ("tesseract", "eurotext", 0.05),
        ("rapidocr", "phototest", 0.03),
        ("rapidocr", "eurotext", 0.06),
    ],
)
def test_engine_reads_real_scans(scans, backend, page, max_cer):
    engine = load(backend)
    try:
        image, truth = scans[page]
        (result,) = engine.predict_batch([image])
    finally:
        engine.close()
    assert cer(truth, result.text) <= max_cer, result.text


@pytest.mark.parametrize("backend", ["tesseract", "rapidocr"])
def test_engines_fail_upside_down_and_orientation_fixes_it(scans, backend):
    image, truth = scans["phototest"]
    flipped = image.rotate(180)
    engine = load(backend)
    detector = OrientationDetector()
    try:
        (raw,) = engine.predict_batch([flipped])
        orientation = detector.detect(flipped)
        (fixed,) = engine.predict_batch([upright(flipped, orientation.rotation)])
    finally:
        engine.close()
        detector.close()
    assert orientation.rotation == 180
    assert cer(truth, raw.text) > 0.3
    assert cer(truth, fixed.text) <= 0.03


@pytest.mark.parametrize("turn", [0, 90, 180, 270])
def test_orientation_detection_recovers_every_right_angle(scans, turn):
    image, _ = scans["eurotext"]
    turned = image.rotate(-turn, expand=True)  # ``turn`` degrees clockwise
    detector = OrientationDetector()
    try:
        orientation = detector.detect(turned)
    finally:
        detector.close()
    assert (turn + orientation.rotation) % 360 == 0


def test_orientation_on_a_blank_page_keeps_it_upright():
    detector = OrientationDetector()
    try:
        assert detector.detect(Image.new("L", (800, 1000), 255)).rotation == 0
    finally:
        detector.close()


def test_batch_results_keep_order_and_length(scans):
    engine = load("tesseract")
    try:
        images = [scans["phototest"][0], Image.new("L", (300, 300), 255), scans["eurotext"][0]]
        results = engine.predict_batch(images)
    finally:
        engine.close()
    assert len(results) == 3
    assert results[0].text.startswith("This is a lot of 12 point text")
    assert results[1].text == ""
    assert "quick" in results[2].text


def test_fake_backend_is_deterministic_and_page_sensitive():
    engine = load("fake")
    white, black = Image.new("L", (10, 10), 255), Image.new("L", (10, 10), 0)
    first = engine.predict_batch([white, black, white])
    assert first[0] == first[2] and first[0] != first[1]


def test_registry_names_and_errors():
    assert {"tesseract", "rapidocr", "fake"} <= set(names())
    with pytest.raises(ValueError, match=r"known: .*tesseract"):
        create("nope")
    with pytest.raises(ValueError, match="no option"):
        create("tesseract", {"langg": "eng"})
    assert create("tesseract", {"psm": "6"}).options["psm"] == 6  # CLI strings are coerced


def test_duplicate_registration_is_an_error():
    class Impostor(Backend):
        name = "tesseract"

        @property
        def model(self) -> str:
            return "x"

        def load(self) -> None:
            pass

        def predict_batch(self, images):
            return [OcrResult("") for _ in images]

    with pytest.raises(ValueError, match="already registered"):
        register(Impostor)


def test_missing_dependency_names_the_extra():
    class NeedsMissing(Backend):
        name = "needs-missing"
        requires = ("definitely_not_installed_module",)
        extra = "something"

        @property
        def model(self) -> str:
            return "x"

        def load(self) -> None:
            pass

        def predict_batch(self, images):
            return []

    with pytest.raises(MissingDependency, match=r"pip install 'pagemill\[something\]'"):
        NeedsMissing.check_dependencies()


def test_heavy_engines_are_not_imported_by_the_package():
    code = (
        "import sys\n"
        "for blocked in ('tesserocr', 'rapidocr_onnxruntime', 'onnxruntime', 'torch', 'vllm',\n"
        "                'httpx', 'tenacity', 'transformers'):\n"
        "    sys.modules[blocked] = None\n"
        "import ops.backends, pipelines.cli\n"
        "pipelines.cli.build_parser()\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_assemble_lines_orders_boxes_into_lines():
    def box(x, y, w=40, h=20):
        return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]

    items = [
        (box(100, 52), "world"),
        (box(10, 50), "hello"),
        (box(10, 100), "second"),
        (box(60, 101), "line"),
    ]
    assert assemble_lines(items) == "hello world\nsecond line"
    assert assemble_lines([]) == ""
