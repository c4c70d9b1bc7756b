"""Page text made clean for search, RAG and training: the steps the text and OCR routes apply to
a page's raw text (see :mod:`ops.layout.steps`)."""
