"""OCR and model backends, one file each, registered by name on import."""

from ops.backends import fake, openai_http, rapidocr, tesseract, transformers_vlm, vllm_engine
from ops.backends.base import Backend, EngineGone, MissingDependency, OcrResult, Resources
from ops.backends.registry import backend_class, create, names, register

__all__ = [
    "Backend",
    "EngineGone",
    "MissingDependency",
    "OcrResult",
    "Resources",
    "backend_class",
    "create",
    "fake",
    "names",
    "openai_http",
    "rapidocr",
    "register",
    "tesseract",
    "transformers_vlm",
    "vllm_engine",
]
