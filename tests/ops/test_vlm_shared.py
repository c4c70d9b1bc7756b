"""What every VLM backend shares: prompt, image preparation, output checks."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image, ImageDraw

from ops.vlm.images import data_url, is_blank, prepare_image
from ops.vlm.output import Generation, Problem, find_problem, runaway_repetition
from ops.vlm.prompt import DEFAULT_PROMPT, chat_messages, resolve_prompt


def inked_page(size=(1700, 2200)) -> Image.Image:
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).text((100, 100), "Some words on the page", fill=0)
    return image


def test_prepare_scales_down_to_the_longest_side_and_pixel_budget_in_rgb():
    page = prepare_image(inked_page(), longest_side=1288)
    assert page.mode == "RGB" and max(page.size) == 1288
    assert page.size == (1700 * 1288 // 2200, 1288)
    small = prepare_image(inked_page(), longest_side=1288, max_pixels=500_000)
    assert small.width * small.height <= 500_000
    tiny = Image.new("L", (300, 200), 255)
    assert prepare_image(tiny, longest_side=1288).size == (300, 200)  # never scaled up


def test_data_url_round_trips_the_image():
    page = prepare_image(inked_page((200, 100)))
    url = data_url(page)
    assert url.startswith("data:image/png;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert decoded.size == page.size and decoded.convert("RGB").tobytes() == page.tobytes()


def test_blank_detection():
    assert is_blank(Image.new("L", (400, 400), 255))
    assert is_blank(Image.new("RGB", (400, 400), (250, 250, 245)))
    assert not is_blank(inked_page((400, 400)))


def test_prompt_default_inline_and_file(tmp_path):
    assert resolve_prompt() == DEFAULT_PROMPT
    assert resolve_prompt("  Read it.  ") == "Read it."
    path = tmp_path / "prompt.txt"
    path.write_text("From a file.\n")
    assert resolve_prompt("ignored", str(path)) == "From a file."
    path.write_text("  \n")
    with pytest.raises(ValueError, match="empty"):
        resolve_prompt(prompt_file=str(path))


def test_chat_messages_carry_image_then_prompt():
    (message,) = chat_messages("data:image/png;base64,AAAA", "Read it.")
    assert message["role"] == "user"
    assert [part["type"] for part in message["content"]] == ["image_url", "text"]
    assert message["content"][0]["image_url"]["url"] == "data:image/png;base64,AAAA"


PROSE = (
    "Proceedings of the conference on document analysis. We describe a system that reads "
    "pages in reading order and keeps tables intact. "
)


@pytest.mark.parametrize(
    ("text", "runaway"),
    [
        (PROSE * 3 + "the " * 300, True),
        (PROSE * 2 + "| 1 | 2 | 3 |\n" * 200, True),
        (PROSE * 2 + "0" * 2000, True),
        ("Lorem ipsum dolor sit amet, " * 150, True),
        (PROSE * 20, True),  # the same 133-character paragraph, 20 times over
        (" ".join(f"Item {i} costs {i * 7 % 13} units." for i in range(400)), False),
        (PROSE + "Contents ........................ 5\n" + PROSE, False),
        (PROSE * 5 + "| | |\n" * 12, False),  # a few empty table rows
        ("", False),
    ],
)
def test_runaway_repetition(text, runaway):
    assert runaway_repetition(text) is runaway


def test_find_problem():
    assert find_problem(Generation(PROSE, "stop"), page_is_blank=False) is None
    assert find_problem(Generation(PROSE, "length"), False) is Problem.TRUNCATED
    assert find_problem(Generation(PROSE + "ha" * 600, "stop"), False) is Problem.REPETITION
    assert find_problem(Generation("  \n", "stop"), False) is Problem.EMPTY
    assert find_problem(Generation("", "stop"), page_is_blank=True) is None
