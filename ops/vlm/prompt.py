"""The extraction prompt and the chat messages that carry it with a page image.

The default asks for the page's text as Markdown in reading order, tables as Markdown (HTML when
cells span), equations as LaTeX, and nothing else; users can replace it (``prompt`` backend
option, or a file with ``prompt_file``). An empty answer is the model's way to say the page is
blank, and the output checks treat it so only when the page image is blank too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEFAULT_PROMPT = (
    "Below is the image of one page of a document. Return the plain text of this page as it "
    "would be read naturally, in reading order, formatted as Markdown. Write tables as Markdown "
    "tables, or as HTML tables when cells span rows or columns. Write equations as LaTeX. "
    "Do not describe images, add commentary, or wrap the answer in a code block. If the page "
    "has no text, return an empty answer."
)


def resolve_prompt(prompt: str | None = None, prompt_file: str | None = None) -> str:
    """The user's prompt (inline or from a file), else the default."""
    if prompt_file:
        text = Path(prompt_file).read_text(encoding="utf-8").strip()
        if not text:
            raise ValueError(f"prompt file {prompt_file!r} is empty")
        return text
    return prompt.strip() if prompt and prompt.strip() else DEFAULT_PROMPT


def render_chat_prompt(processor: Any, prompt: str) -> str:
    """The model's own chat template applied to one user turn holding a page image and the
    instruction, ending where the assistant's answer starts. In-process engines (transformers,
    vLLM) use it; the template places the model's image tokens."""
    conversation = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}
    ]
    return str(
        processor.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    )


def chat_messages(image_url: str, prompt: str) -> list[dict[str, Any]]:
    """One user turn, image first then the instruction (the order olmOCR was trained on), in
    the OpenAI chat format that vLLM, sglang and hosted APIs accept."""
    return [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": image_url}},
                {"type": "text", "text": prompt},
            ],
        }
    ]
