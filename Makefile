# Two commands do all set-up on a fresh machine:  make demo  |  make test
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/pip install -q -c constraints.txt
export OMP_NUM_THREADS ?= 2

.PHONY: demo test lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e '.[plots]'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e '.[dev]'
	touch $@

demo: $(VENV)/.installed  ## train an RNN on the shipped sunspots series and print its metrics
	$(BIN)/rnnkit demo --out runs/demo

test: $(VENV)/.installed-dev  ## the whole suite, as CI runs it
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests || true

clean:
	rm -rf $(VENV) runs
