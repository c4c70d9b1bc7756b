"""What an OCR actor does, without Ray: fill OCR rows, pass text rows, isolate failing pages."""

from __future__ import annotations

import pyarrow as pa
import pytest
from PIL import Image

from ops.backends.base import Backend, OcrResult
from ops.backends.fake import FakeBackend
from ops.batching import BatchPolicy
from ops.imaging import encode
from ops.ocr import EngineDead, OcrRunner
from ops.pages import STATUS_PENDING
from ops.schema import IMAGE_COLUMN, PAGE_SCHEMA, to_table
from ops.vlm.backend import VLM_OPTIONS, VlmBackend
from ops.vlm.output import Generation


def pending_row(index: int, image: Image.Image | None = None) -> dict:
    image = image or Image.new("L", (64, 32), 255 - index)
    return {
        "doc_id": "d",
        "source_uri": "u",
        "page_index": index,
        "page_number": index + 1,
        "route": "ocr",
        "status": STATUS_PENDING,
        IMAGE_COLUMN: encode(image),
        "latency_ms": 5.0,
    }


def text_row(index: int) -> dict:
    return {
        "doc_id": "d",
        "source_uri": "u",
        "page_index": index,
        "page_number": index + 1,
        "route": "text",
        "status": "ok",
        "text": f"text {index}",
        "backend": "pdfium",
    }


class FlakyBackend(Backend):
    """Fails every page whose image is pure black, or every page when ``always`` is set."""

    name = "flaky-test"
    option_defaults = {"always": False}  # noqa: RUF012

    @property
    def model(self) -> str:
        return "flaky"

    def load(self) -> None:
        pass

    def predict_batch(self, images):
        if self.options["always"] or any(image.getextrema() == (0, 0) for image in images):
            raise RuntimeError("engine exploded")
        return [OcrResult(f"{image.width}x{image.height}") for image in images]


def runner(backend: Backend, **kwargs) -> OcrRunner:
    instance = OcrRunner(backend, orientation="off", **kwargs)
    instance.load()
    return instance


def test_text_rows_pass_through_and_ocr_rows_are_filled():
    table = to_table([text_row(0), pending_row(1), text_row(2), pending_row(3)])
    out = runner(FakeBackend()).process(table)
    assert out.schema == PAGE_SCHEMA
    rows = {row["page_index"]: row for row in out.to_pylist()}
    assert set(rows) == {0, 1, 2, 3}
    assert rows[0]["text"] == "text 0" and rows[0]["backend"] == "pdfium"
    assert rows[1]["status"] == "ok" and rows[1]["backend"] == "fake"
    assert rows[1]["text"].startswith("fake page 64x32")
    assert rows[1]["char_count"] == len(rows[1]["text"])
    assert rows[1]["latency_ms"] > 5.0  # render time plus OCR time


def test_a_failing_page_becomes_an_error_row_and_its_batch_mates_survive():
    black = Image.new("L", (64, 32), 0)
    table = to_table([pending_row(0), pending_row(1, black), pending_row(2)])
    rows = {row["page_index"]: row for row in runner(FlakyBackend()).process(table).to_pylist()}
    assert [rows[i]["status"] for i in range(3)] == ["ok", "error", "ok"]
    assert rows[1]["error_type"] == "ocr_failed" and rows[1]["error_stage"] == "ocr"
    assert "engine exploded" in rows[1]["error_message"]
    assert rows[1]["backend"] == "flaky-test"


def test_an_engine_that_fails_on_every_page_is_declared_dead():
    table = to_table([pending_row(i) for i in range(6)])
    with pytest.raises(EngineDead, match="5 pages in a row"):
        runner(FlakyBackend(always=True), max_consecutive_failures=5).process(table)


def test_undecodable_image_is_an_error_row():
    row = pending_row(0)
    row[IMAGE_COLUMN] = b"garbage"
    (out,) = runner(FakeBackend()).process(to_table([row])).to_pylist()
    assert out["status"] == "error" and out["error_type"] == "image_decode_failed"


def test_orientation_is_recorded_on_the_row(shared_data):
    scan = Image.open(shared_data / "gt_scanned/tesseract_test/phototest.tif").convert("L")
    instance = OcrRunner(FakeBackend(), orientation="always")
    instance.load()
    try:
        (out,) = instance.process(to_table([pending_row(0, scan.rotate(180))])).to_pylist()
    finally:
        instance.close()
    assert out["rotation"] == 180


@pytest.fixture(scope="module")
def phototest(shared_data):
    scan = Image.open(shared_data / "gt_scanned/tesseract_test/phototest.tif").convert("L")
    truth = (shared_data / "gt_scanned/tesseract_test/phototest.gold.txt").read_text()
    return scan, truth


def test_auto_orientation_rereads_an_upside_down_page(phototest):
    from ops.backends import create
    from tests.cer import cer

    scan, truth = phototest
    instance = OcrRunner(create("tesseract"), orientation="auto")
    instance.load()
    try:
        rows = instance.process(to_table([pending_row(0, scan.rotate(180)), pending_row(1, scan)]))
    finally:
        instance.close()
    flipped, upright_page = sorted(rows.to_pylist(), key=lambda row: row["page_index"])
    assert flipped["rotation"] == 180 and cer(truth, flipped["text"]) <= 0.02
    assert upright_page["rotation"] == 0 and cer(truth, upright_page["text"]) <= 0.02


def test_auto_orientation_leaves_confident_reads_alone(phototest):
    # The fake engine is always confident, so the upside-down page is not even checked.
    scan, _ = phototest
    instance = OcrRunner(FakeBackend(), orientation="auto")
    instance.load()
    try:
        (row,) = instance.process(to_table([pending_row(0, scan.rotate(180))])).to_pylist()
    finally:
        instance.close()
    assert row["rotation"] == 0


def test_batch_without_ocr_rows_is_only_conformed():
    table = to_table([text_row(0), text_row(1)])
    out = runner(FlakyBackend(always=True)).process(table)
    assert out.num_rows == 2 and out.schema == PAGE_SCHEMA
    assert IMAGE_COLUMN not in out.column_names
    assert isinstance(out, pa.Table)


def test_out_of_memory_batches_are_split_and_every_page_read_once():
    table = to_table([pending_row(i) for i in range(8)])
    instance = runner(FakeBackend(oom_above=3), batch_policy=BatchPolicy(initial=8, maximum=8))
    rows = sorted(instance.process(table).to_pylist(), key=lambda row: row["page_index"])
    assert [row["page_index"] for row in rows] == list(range(8))
    assert {row["status"] for row in rows} == {"ok"}
    assert all(1 <= row["batch_size"] <= 3 for row in rows)
    assert [change.reason for change in instance.batcher.trajectory][:2] == ["start", "oom"]


def test_a_page_too_big_for_the_engine_alone_is_an_out_of_memory_error_row():
    class PickyBackend(FakeBackend):
        name = "picky-test"

        def predict_batch(self, images):
            if any(image.width > 100 for image in images):
                raise MemoryError("cannot allocate")
            return super().predict_batch(images)

    big = Image.new("L", (400, 32), 255)
    table = to_table([pending_row(0), pending_row(1, big), pending_row(2)])
    rows = {row["page_index"]: row for row in runner(PickyBackend()).process(table).to_pylist()}
    assert [rows[i]["status"] for i in range(3)] == ["ok", "error", "ok"]
    assert rows[1]["error_type"] == "out_of_memory" and rows[1]["batch_size"] == 1


class ScriptedVlm(VlmBackend):
    """A generative engine whose answers a test scripts by temperature."""

    name = "scripted-vlm-test"
    option_defaults = {**VLM_OPTIONS, "runaway_at": "all"}  # noqa: RUF012

    @property
    def model(self) -> str:
        return "scripted-1"

    def load(self) -> None:
        pass

    def generate(self, images, temperature):
        runaway = self.options["runaway_at"] == "all" or temperature == 0.0
        text = "loop " * 400 if runaway else f"page {images[0].width}"
        return [Generation(text, "stop", 1000, len(text.split())) for _ in images]


def test_unusable_model_output_falls_back_to_the_cpu_engine_with_its_cost_recorded():
    instance = runner(ScriptedVlm(), fallback=FakeBackend())
    (row,) = instance.process(to_table([pending_row(0)])).to_pylist()
    instance.close()
    assert row["status"] == "ok" and row["is_fallback"] is True
    assert row["backend"] == "fake" and row["text"].startswith("fake page 64x32")
    assert row["attempts"] == 3  # two model attempts, then the fallback read
    assert row["finish_reason"] == "stop"
    assert row["input_tokens"] == 2000 and row["output_tokens"] == 800


def test_a_retry_at_higher_temperature_that_works_is_not_a_fallback():
    (row,) = runner(ScriptedVlm(runaway_at="first")).process(to_table([pending_row(0)])).to_pylist()
    assert row["status"] == "ok" and row["is_fallback"] is False
    assert row["backend"] == "scripted-vlm-test" and row["text"] == "page 64"
    assert row["attempts"] == 2 and row["input_tokens"] == 2000


def test_without_a_fallback_unusable_output_is_an_error_row():
    (row,) = runner(ScriptedVlm()).process(to_table([pending_row(0)])).to_pylist()
    assert row["status"] == "error" and row["error_type"] == "degenerate_output"
    assert "repetition after 2 attempt(s)" in row["error_message"]
    assert row["attempts"] == 2 and row["text"] is None


def test_cpu_engine_rows_say_one_attempt_and_no_fallback():
    (row,) = runner(FakeBackend()).process(to_table([pending_row(0)])).to_pylist()
    assert row["attempts"] == 1 and row["is_fallback"] is False and row["finish_reason"] is None


def _rendered_lines(lines: list[str]) -> Image.Image:
    import pypdfium2 as pdfium

    from ops.pdf.synth import text_pdf

    document = pdfium.PdfDocument(text_pdf([lines]))
    try:
        return document[0].render(scale=200 / 72, grayscale=True).to_pil()
    finally:
        document.close()


def test_tesseract_output_is_dehyphenated_unless_the_step_is_off():
    from ops.backends import create
    from ops.layout.steps import TextSteps

    lines = ["Hyphenation", "the results were remark-", "able and then remarkable again"]
    table = to_table([pending_row(0, _rendered_lines(lines))])
    texts = []
    for steps in (TextSteps(), TextSteps.parse("none")):
        runner = OcrRunner(create("tesseract"), orientation="off", text_steps=steps)
        runner.load()
        texts.append(runner.process(table).column("text").to_pylist()[0])
    cleaned_text, raw_text = texts
    assert "remark-\nable" in raw_text, raw_text  # what Tesseract read
    assert "were remarkable\nand then" in cleaned_text and "remark-" not in cleaned_text, (
        cleaned_text
    )


def test_a_scanned_page_number_moves_to_footer_text_and_the_language_is_named():
    from ops.backends import create

    lines = [
        "The committee met and agreed on the plan for the archive.",
        "It will be digitised by the end of the year.",
        "",
        "",
        "- 17 -",
    ]
    runner = OcrRunner(create("tesseract"), orientation="off")
    runner.load()
    (row,) = runner.process(to_table([pending_row(0, _rendered_lines(lines))])).to_pylist()
    assert row["footer_text"].replace(" ", "") == "-17-", row["text"]
    assert "17" not in row["text"] and "archive" in row["text"]
    assert row["header_text"] is None and row["primary_language"] == "en"
    assert row["char_count"] == len(row["text"])
