# libcrm — two commands on a fresh machine with Python 3.11+:
#   make demo   installs into .venv, prepares the demo library, serves http://127.0.0.1:8000
#   make test   runs the whole suite on SQLite and, when PostgreSQL is installed, on PostgreSQL
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: demo test install lint serve

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "libcrm needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/libcrm migrate --no-input
	$(BIN)/libcrm demo
	$(BIN)/libcrm serve --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) lint
	@echo "== libcrm tests on SQLite =="
	$(BIN)/python -m pytest
	@if $(BIN)/python -c 'import sys; from tests.environment import postgres_bin; sys.exit(postgres_bin() is None)'; then \
		echo "== libcrm tests on PostgreSQL (throwaway cluster) =="; \
		LIBCRM_TEST_DATABASE=postgres $(BIN)/python -m pytest; \
	else \
		echo "!! PostgreSQL server binaries not found: the PostgreSQL leg was skipped (apt-get install postgresql)"; \
		if [ -n "$$CI" ]; then exit 1; fi; \
	fi
