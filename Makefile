# Two commands on a fresh machine:  make demo   and   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PYTHONDONTWRITEBYTECODE := 1
# The test runs keep bytecode, and pytest its assertion-rewritten test modules (about 5 s of CPU per xdist worker
# otherwise), under .venv/pycache: outside the checkout, gone with make clean.
PYTEST := PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(abspath $(VENV))/pycache $(BIN)/python -m pytest

.PHONY: install install-dev demo test test-fast lint bench clean help

help:
	@echo "make demo   - create .venv, install, run the whole job on built-in sample data (no AWS/Slack needed)"
	@echo "make test   - install dev tools and run the test suite + ruff"
	@echo "make test-fast - the tests that need no servers (no moto, MariaDB, Chromium or end-to-end runs)"
	@echo "make bench  - print the speed and alert-quality figures (bench/)"
	@echo "make clean  - remove what make built (.venv, caches); never data/ or output/ (your history and site)"

# _util/__init__.py holds the version check (one message for make and the scripts); it stops before any venv.
$(BIN)/python:
	@$(PYTHON) -c 'import _util' || { echo "make: $(PYTHON) cannot be used for the venv (see the line above)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The project itself goes in editable (pyproject.toml): _util and the scripts import from any folder (tests, bench/,
# cron), and no code edits sys.path. --no-deps: requirements.txt has just installed them.
$(VENV)/.runtime: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt requirements-export.txt $(VENV)/.runtime
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

demo: install
	$(BIN)/python runCostReporting.py --demo

test: install-dev
	$(PYTEST) -q -n 2
	$(BIN)/ruff check .

# The integrator may refine the selection; these markers cover the tests that need moto, MariaDB, Chromium or runs.
test-fast: install-dev
	$(PYTEST) -q -n 2 -m "not slow and not mysql and not browser and not server"

lint: install-dev
	$(BIN)/ruff check .

# As modules from the checkout (python -m bench.x): the benchmarks share the tests' fixtures (tests.*).
bench: install-dev
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python -m bench.$$(basename $$script .py) || exit 1; done

# Only what make builds: data/ (the SQLite history, exactly-once records) and output/ (site, logs) are never removed.
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
