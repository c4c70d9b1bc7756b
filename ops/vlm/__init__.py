"""What every vision-language model backend shares, whatever runs the model (transformers, vLLM,
an OpenAI-compatible server): the prompt, page-image preparation, and the checks that decide
whether a generation is a usable page text."""
