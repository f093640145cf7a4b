# Everyday commands. `make help` lists them.
PY ?= .venv/bin/python
export OPSFLOW_TEST_POSTGRES_URL ?=

.PHONY: help venv install test test-pg test-later lint imports format typecheck demo schema tables bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

venv:  ## create .venv
	test -x $(PY) || python3 -m venv .venv

install: venv  ## install opsflow with the test extra, editable
	$(PY) -m pip install -e '.[test]'

test:  ## run the whole test suite (SQLite; PostgreSQL too when OPSFLOW_TEST_POSTGRES_URL is set)
	$(PY) -m pytest

test-pg:  ## run the suite on SQLite and the local PostgreSQL
	OPSFLOW_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test $(PY) -m pytest

test-later:  ## the SQLite tests on a clock 1,000 days ahead, as CI runs them (needs faketime)
	env -u OPSFLOW_TEST_POSTGRES_URL faketime -f '+1000d' $(PY) -m pytest -q -n 2 -p no:cacheprovider

lint:  ## ruff and the import contracts
	$(PY) -m ruff check src tests
	$(MAKE) imports

imports:  ## the import-linter contracts of pyproject.toml (the house: layers, forbidden imports)
	.venv/bin/lint-imports --no-cache

format:  ## ruff format + import sorting
	$(PY) -m ruff format src tests && $(PY) -m ruff check --fix src tests

typecheck:  ## mypy
	$(PY) -m mypy

demo:  ## run the demo on the embedded SQLite default
	.venv/bin/opsflow demo

schema:  ## regenerate workflow.schema.json
	.venv/bin/opsflow schema > workflow.schema.json

tables:  ## regenerate src/opsflow/store/tables.py from the SQLModel classes in models.py
	$(PY) -m opsflow.store.schemagen

bench:  ## the benchmark harness
	$(PY) -m benchmarks

clean:  ## remove build and test leftovers
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache opsflow-demo
