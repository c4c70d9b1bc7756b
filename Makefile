# The two documented commands: `make run` (main job on the bundled samples) and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out
SAMPLES ?= samples/docs

.PHONY: run test install install-dev lint format bench samples clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

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

test: lint
	$(BIN)/python -m pytest -q

bench: install-dev
	$(BIN)/pagemill bench

samples: install-dev
	$(BIN)/python scripts/make_samples.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
