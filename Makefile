# Two commands for a fresh machine:
#   make run   - set up .venv, build the demo store, start the app on it
#   make test  - set up .venv (and Debian chromium for the browser test), run all tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test venv sysdeps chromium lint demo train bench clean

$(STAMP): requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tests need: Chromium for the Playwright browser test (never
# `playwright install`), DejaVu fonts for the PDF report, the PostgreSQL server (the store
# tests start a throwaway cluster with its initdb/pg_ctl from /usr/lib/postgresql/*/bin).
SYSDEPS := chromium fonts-dejavu-core postgresql
sysdeps:
	@missing=$$(for p in $(SYSDEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

chromium: sysdeps

demo: venv
	$(PY) -m core demo

run: venv
	@test -f data/store/cases.sqlite || $(PY) -m core demo
	$(PY) -m streamlit run app.py --server.port $(PORT) --server.address 127.0.0.1

lint: venv
	$(PY) -m ruff check .

test: venv sysdeps lint
	$(PY) -m pytest -q

train: venv
	$(PY) -m core train --cohort data/demo/cohort.csv --out models/demo --seed 0 --synthetic

bench: venv sysdeps
	$(PY) bench/extract.py
	$(PY) bench/predict.py
	$(PY) bench/assess.py
	$(PY) bench/startup.py --studies 100000 --visits 5
	$(PY) bench/read_gzip.py
	$(PY) bench/read_memory.py
	$(PY) bench/batch.py
	$(PY) bench/import.py
	$(PY) bench/store_queries.py
	$(PY) bench/board_decision.py
	$(PY) bench/after_edit.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts data/store
