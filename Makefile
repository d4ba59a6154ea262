# The two set-up commands of the README: `make run-day` and `make test`. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?= --date 2026-11-23

.PHONY: run-day test lint bench clean

# checkov has dependencies that clash with ours: it lives in its own venv (tests skip it where absent).
CHECKOV := var/checkov/bin/checkov

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt -e .
	touch $(STAMP)

run-day: $(STAMP)
	$(BIN)/tron run-day $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

$(CHECKOV):
	$(PY) -m venv var/checkov
	var/checkov/bin/pip install -q --disable-pip-version-check checkov==3.3.30

test: lint $(CHECKOV)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/bench_day.py

clean:
	rm -rf $(VENV) var
