"""Tiny, randomly initialised vision-language models of the real Qwen2-VL / Qwen2.5-VL
architectures (the family olmOCR fine-tunes), built locally: config, weights, a BPE tokenizer
trained in code with Qwen's special tokens, the image processor and a chat template.

Nothing is downloaded. The models read nothing sensible, but they exercise the real loading,
preprocessing, batched generation and decoding code paths of ``transformers``: the tests use them,
and ``pagemill bench --only vlm`` runs one as a CPU smoke run when no model is given.
"""

from __future__ import annotations

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


def build_tiny_vlm(folder: Path, family: str = "qwen2_vl") -> Path:
    """Save a tiny model of ``family`` (``qwen2_vl`` or ``qwen2_5_vl``) in ``folder``.

    Its generation config forces the end-of-turn token as the last token of the budget (a
    standard ``generate`` option), so answers end with ``finish_reason=stop`` the way a trained
    model's do."""
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

    tokenizer = build_tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 2048,
        "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]},
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
        # Wide random weights: answers vary with the page instead of collapsing to one token.
        "initializer_range": 0.5,
    }
    common = {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
        "tie_word_embeddings": True,
    }
    if family == "qwen2_vl":
        vision = {"depth": 1, "embed_dim": 32, "hidden_size": 64, "num_heads": 2, "mlp_ratio": 2}
        config = Qwen2VLConfig(text_config=text_config, vision_config=vision, **common)
        model_cls = Qwen2VLForConditionalGeneration
    elif family == "qwen2_5_vl":
        vision = {
            "depth": 1,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 64,
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
