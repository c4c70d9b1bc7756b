"""Tiny, randomly initialised vision-language models of the real Qwen2-VL / Qwen2.5-VL
architectures (the family olmOCR fine-tunes), built locally: config, weights, a BPE tokenizer
trained in code with Qwen's special tokens, the image processor and a chat template.

Nothing is downloaded. The models read nothing sensible, but they exercise the real loading,
preprocessing, batched generation and decoding code paths of ``transformers``: the tests use them,
and ``pagemill bench --only vlm`` runs one as a CPU smoke run when no model is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

CORPUS = [
    "Below is the image of one page of a document.",
    "Return the plain text of this page as it would be read naturally.",
    "The committee met on Tuesday and approved the budget for the coming year.",
    "Tables are written as Markdown tables; equations as LaTeX.",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:!?#|-*()[]",
]

# Few image patches per page keeps generation on CPU in tenths of a second.
IMAGE_MIN_PIXELS = 28 * 28 * 4
IMAGE_MAX_PIXELS = 28 * 28 * 16


@dataclass(frozen=True, slots=True)
class Tower:
    """Widths of the two towers for one attention head width."""

    hidden: int
    heads: int
    kv_heads: int
    mrope_section: tuple[int, int, int]  # sums to half the head width
    vision_width: int
    # Random weights this wide give answers that vary with the page; at 0.1 the wider model
    # also ends some answers itself (vLLM ignores the forced end-of-turn token).
    initializer_range: float


TOWERS = {
    16: Tower(
        hidden=64,
        heads=4,
        kv_heads=2,
        mrope_section=(2, 3, 3),
        vision_width=32,
        initializer_range=0.5,
    ),
    64: Tower(
        hidden=128,
        heads=2,
        kv_heads=1,
        mrope_section=(8, 12, 12),
        vision_width=64,
        initializer_range=0.1,
    ),
}


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
        padding_side="left",
    )


def build_tiny_vlm(folder: Path, family: str = "qwen2_vl", head_dim: int = 16) -> Path:
    """Save a tiny model of ``family`` (``qwen2_vl`` or ``qwen2_5_vl``) in ``folder``.

    ``head_dim`` is the attention head width of both towers: 16 keeps the transformers tests
    fastest; vLLM's CPU attention kernels take only some widths and reject 16, so its tests build
    the model with 64. Its generation config forces the end-of-turn token as the last token of
    the budget (a standard ``generate`` option), so answers end with ``finish_reason=stop`` the
    way a trained model's do under transformers."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    if head_dim not in TOWERS:
        raise ValueError(f"head_dim must be one of {sorted(TOWERS)}, not {head_dim}")
    tower = TOWERS[head_dim]
    tokenizer = build_tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": tower.hidden,
        "intermediate_size": 2 * tower.hidden,
        "num_hidden_layers": 2,
        "num_attention_heads": tower.heads,
        "num_key_value_heads": tower.kv_heads,
        "max_position_embeddings": 32768,  # RoPE: room for a judge prompt
        # Multimodal RoPE splits half the head width into temporal, height and width sections.
        "rope_scaling": {"type": "mrope", "mrope_section": list(tower.mrope_section)},
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "initializer_range": tower.initializer_range,
    }
    common = {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
        "tie_word_embeddings": True,
    }
    if family == "qwen2_vl":
        vision = {
            "depth": 1,
            "embed_dim": tower.vision_width,
            "hidden_size": tower.hidden,
            "num_heads": tower.vision_width // head_dim,
            "mlp_ratio": 2,
        }
        config = Qwen2VLConfig(text_config=text_config, vision_config=vision, **common)
        model_cls = Qwen2VLForConditionalGeneration
    elif family == "qwen2_5_vl":
        vision = {
            "depth": 1,
            "hidden_size": tower.vision_width,
            "intermediate_size": 2 * tower.vision_width,
            "num_heads": tower.vision_width // head_dim,
            "out_hidden_size": tower.hidden,
            "fullatt_block_indexes": [0],
        }
        config = Qwen2_5_VLConfig(text_config=text_config, vision_config=vision, **common)
        model_cls = Qwen2_5_VLForConditionalGeneration
    else:
        raise ValueError(f"unknown family {family!r}")
    torch.manual_seed(0)
    model = model_cls(config).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.forced_eos_token_id = ids["<|im_end|>"]
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(
            min_pixels=IMAGE_MIN_PIXELS, max_pixels=IMAGE_MAX_PIXELS
        ),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
