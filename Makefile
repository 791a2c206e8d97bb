# MARBLE: the README's two commands (run, test) and the rest (lint, bench, schema).
# Everything installs from nothing into .venv; stamps under .venv make reruns fast.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
MARBLE := $(VENV)/bin/marble
# A CPU machine must not pull a multi-GB CUDA build: pin torch unless overridden.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: run test lint bench schema install install-dev chromium clean

# Our own packages are installed editable, so pip compiles none of their modules,
# and where PYTHONDONTWRITEBYTECODE is set (as on the development machine) every
# `marble` process compiled them again from source: about 0.9 s of each process's
# start-up. Refreshing their bytecode first costs a stat per module when nothing
# changed.
BYTECODE := $(PY) -m compileall -q marble_graph marble_server clients/python/marble_client
# The C kernels (marble_graph/model/*.c) are built on first use and cached per
# machine; building them up front keeps the build out of timed runs and says
# once, here, when there is no C compiler (training then runs slower PyTorch ops).
KERNELS := $(PY) marble_graph/model/c_library.py fused_attention.c fused_update.c walk_steps.c

# The demo brain: the digits preset, trained once for a short run (about 15 s on two cores).
DEMO_EPOCHS ?= 12

# It ends by serving the demo brain on 127.0.0.1:$(PORT) until Ctrl-C, with a fresh token.
PORT ?= 8000

run: $(VENV)/.installed
	@$(BYTECODE)
	@$(KERNELS)
	$(MARBLE) init
	$(MARBLE) brain create demo --dataset digits --exist-ok --format json > /dev/null
	$(MARBLE) train demo --dataset digits --epochs $(DEMO_EPOCHS) --if-untrained
	$(MARBLE) brain show demo
	@echo "API token for this server (scopes read, infer, train, admin); use it as"
	@echo "  Authorization: Bearer TOKEN"
	@$(MARBLE) token create make-run --scopes read,infer,train,admin --replace
	$(MARBLE) serve --dev --port $(PORT)

# Test temp dirs (graph databases, SQLite files) go on tmpfs where there is one:
# every test creates and commits stores, and on disk their fsyncs are a quarter of
# the suite's wall time. TEST_TMPDIR= (empty) keeps the system's temp dir.
TEST_TMPDIR ?= $(shell [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm)
TEST_ENV := $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR))

# pytest-xdist workers: one per core (`auto`); PYTEST_WORKERS=0 runs in one process.
# --dist loadfile keeps a file's tests on one worker, so a module-scoped fixture
# (a served app, a `marble serve` process) starts once per file, as without workers.
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadfile

# Lint first (formatting, types, the import contract of docs/architecture.md), then
# the whole suite on LadybugDB (the default engine), then the graph-engine tests
# again on Kùzu (the two engines cannot share one process).
test: $(VENV)/.installed-dev chromium lint
	@$(BYTECODE)
	@$(KERNELS)
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)
	$(TEST_ENV) MARBLE_TEST_GRAPH_ENGINE=kuzu $(PY) -m pytest $(PYTEST_PARALLEL) -m graph_engine $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	cd clients/python && $(abspath $(VENV))/bin/ruff format --check . \
		&& $(abspath $(VENV))/bin/ruff check . && $(abspath $(VENV))/bin/mypy --strict marble_client

bench: $(VENV)/.installed-dev
	@$(BYTECODE)
	@$(KERNELS)
	@for script in bench/[!_]*.py; do $(PY) $$script || exit 1; done

# The contracts in schema/: config JSON Schema, OpenAPI document, GraphQL SDL.
schema: $(VENV)/.installed
	$(MARBLE) config schema --output schema/config.schema.json
	$(PY) -m marble_server.contracts schema

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev chromium

# The explorer's browser tests (tests/ui) drive Debian's chromium through Playwright
# (never `playwright install`, which downloads its own builds): installed when missing.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@[ -x "$(CHROMIUM)" ] || { echo "installing chromium for the browser tests"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch goes in first, and only when missing, so TORCH_SPEC decides the build.
$(VENV)/.torch: | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install "$(TORCH_SPEC)"
	@touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml clients/python/pyproject.toml $(VENV)/.installed
	$(PIP) install --quiet -e ".[dev,ladybug,postgres]"
	$(PIP) install --quiet -e ./clients/python
	@touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
