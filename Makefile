# `make demo` and `make test` work on a fresh clone: they create .venv (unless a virtualenv is
# active) and install the package into it first.
SHELL := /bin/bash
PYTHON ?= python3.11
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := .venv
endif
BIN := $(VENV)/bin
STAMP := $(VENV)/.dynamic-vae-installed
DEMO_DIR ?= runs/demo
export TF_CPP_MIN_LOG_LEVEL ?= 2
export NO_GCE_CHECK := true
# Where `dynamic-vae experiment textures|rotation|periodic` read their default clips and objects.
export DYNAMIC_VAE_DATA ?= $(abspath ../shared/data)
# pytest workers (pytest-xdist); each test file runs on one worker, so its module fixtures
# are built once. Most of the suite is tracing and model building, which one core does.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest tests -q -n $(TEST_WORKERS) --dist loadfile --durations=15

.PHONY: install demo test test-fast bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,serving]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/dynamic-vae train --preset counting-mnist --cycle 1234 --output $(DEMO_DIR)
	$(BIN)/dynamic-vae inspect $(DEMO_DIR)
	$(BIN)/dynamic-vae generate $(DEMO_DIR) --length 200 --seed 0 --out $(DEMO_DIR)/synthesised.gif --scale 2
	$(BIN)/dynamic-vae generate $(DEMO_DIR) --length 200 --seed 0 --out $(DEMO_DIR)/synthesised.png
	$(BIN)/dynamic-vae generate $(DEMO_DIR) --length 200 --seed 0 --out $(DEMO_DIR)/synthesised.npy
	$(BIN)/dynamic-vae evaluate $(DEMO_DIR) --seeds 3 --horizon 1000
	@echo "demo: synthesised sequence in $(DEMO_DIR)/synthesised.{gif,png,npy}," \
	      "evaluation report in $(DEMO_DIR)/evaluation/report.md"

test: $(STAMP)
	$(PYTEST)

test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/train_throughput.py

clean:
	rm -rf runs .pytest_cache
