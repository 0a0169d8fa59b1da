# Two entry points for a fresh machine: `make run` (runtime only) and `make test` (everything).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test lint bench model system-deps clean

$(VENV)/.runtime: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PIP) install -q -e '.[convert,mqtt,dev]'
	touch $@

run: $(VENV)/.runtime
	$(VENV)/bin/edge-digits run $(ARGS)

system-deps:
	bash tools/system-deps.sh

test: $(VENV)/.dev system-deps
	$(VENV)/bin/ruff check edge_digits convert tests bench
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check edge_digits convert tests bench

bench: $(VENV)/.dev
	$(PY) -m bench

model: $(VENV)/.dev system-deps
	$(VENV)/bin/edge-digits-convert all --out models

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
