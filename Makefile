# ztfnb: two commands on a fresh machine.
#   make reports   run every notebook headless on the embedded simulated night -> reports/
#   make lab       JupyterLab on notebooks/ with the project's kernel (LAB_OPTIONS="--port 8890")
#   make test      the whole test suite
# Each sets itself up: .venv with the package and its extras, and the Debian packages
# scamp, source-extractor and swarp (installed when missing and running as root).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ztfnb-installed
EXTRAS := test,dask,browser,app
DEBIAN_PACKAGES := scamp source-extractor swarp
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: help setup debian browser reports lab test bench lint format clean

help:
	@echo "make reports   run every notebook in notebooks/ on the simulated night (reports/)"
	@echo "make lab       open JupyterLab on notebooks/ with the project's kernel"
	@echo "make test      run the test suite"
	@echo "make bench     run the benchmarks (benchmarks/)"
	@echo "make lint      ruff check and format check"

setup: $(STAMP) debian

$(STAMP): pyproject.toml
	@if [ ! -x $(PY) ]; then \
	  $(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); \
	    else echo "cannot create $(VENV): install python3-venv (sudo apt-get install python3-venv)"; exit 1; fi; }; \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	@touch $(STAMP)

debian:
	@missing=""; \
	for command in scamp source-extractor SWarp; do command -v $$command >/dev/null || missing="$$missing $$command"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES); \
	  else \
	    echo "ztfnb needs$$missing: run 'sudo apt-get install $(DEBIAN_PACKAGES)' (tests that need them are skipped)"; \
	  fi; \
	fi

reports: setup
	@for notebook in $(NOTEBOOKS); do \
	  echo "== $$notebook"; \
	  $(PY) -m ztfnb run $$notebook || exit 1; \
	done
	@echo "reports written; index: reports/index.html"

lab: setup
	$(PY) -m ztfnb lab $(LAB_OPTIONS)

browser:
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core || true; \
	  else \
	    echo "browser tests will be skipped: run 'sudo apt-get install chromium fonts-dejavu-core'"; \
	  fi; \
	fi

# test files run in parallel, one file per worker (its shared nights are made once there)
test: setup browser
	MPLBACKEND=agg $(PY) -m pytest -n auto --maxprocesses=4 --dist loadfile

bench: setup
	$(PY) -m benchmarks

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf reports nights test-artifacts .pytest_cache .ruff_cache
