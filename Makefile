# The two set-up commands of the README: `make run-day` and `make test`. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?= --date 2026-11-23

.PHONY: run-day test lint bench bench-gcp bench-firestore bench-executor bench-cold-start clean

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
	$(BIN)/mypy

$(CHECKOV):
	$(PY) -m venv var/checkov
	var/checkov/bin/pip install -q --disable-pip-version-check checkov==3.3.30

test: lint $(CHECKOV)
	$(BIN)/pytest -n auto --dist worksteal -m "not serial"
	$(BIN)/pytest -m serial

bench: $(STAMP)
	$(BIN)/python bench/bench_day.py
	$(BIN)/python bench/bench_backtest.py

# On the local Google Cloud stand-ins (Firestore and Pub/Sub emulators, fake-gcs-server): started and stopped
# by each script on free ports.
bench-gcp: bench-firestore bench-executor bench-cold-start

bench-firestore: $(STAMP)
	$(BIN)/python bench/bench_firestore_ops.py 50 200 500

bench-executor: $(STAMP)
	$(BIN)/python bench/bench_executor.py

bench-cold-start: $(STAMP)
	$(BIN)/python bench/cold_start.py

clean:
	rm -rf $(VENV) var
