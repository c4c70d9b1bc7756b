"""Ray-free building blocks of pagemill: documents, pages, routing, OCR backends, the output schema.

Nothing under ``ops`` imports Ray, so every piece is unit-testable in a plain process and reusable
outside the pipeline.
"""

__version__ = "0.1.0"
