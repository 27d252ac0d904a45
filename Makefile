# Two commands on a fresh machine:  make demo   and   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install install-dev demo test lint bench clean help

help:
	@echo "make demo   - create .venv, install, run the whole job on built-in sample data (no AWS/Slack needed)"
	@echo "make test   - install dev tools and run the test suite + ruff"
	@echo "make bench  - print the speed and alert-quality figures (bench/)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

demo: install
	$(BIN)/python runCostReporting.py --demo

test: install-dev
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check .

lint: install-dev
	$(BIN)/ruff check .

bench: install-dev
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) output data .pytest_cache .ruff_cache .hypothesis
