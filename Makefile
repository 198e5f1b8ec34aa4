# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench install migrate demo lint typecheck messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/smartcity db upgrade

demo: migrate
	$(BIN)/smartcity demo load

## make run: install, migrate, load the Yuyao demo data, serve on http://127.0.0.1:8000
run: demo
	$(BIN)/smartcity serve --simulate

## make test: the same bootstrap, then the whole suite (SQLite and PostgreSQL, console in Chromium), one worker
## process per core; the tests of one file stay on one worker (they share its fixtures)
test: migrate
	$(BIN)/pytest -n auto --dist loadscope $(PYTEST_ARGS)

## make bench: benchmarks, each printing its figure beside its baseline
bench: migrate
	$(BIN)/python bench/catalog_search.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/linkage.py
	$(BIN)/python bench/data_service.py
	$(BIN)/python bench/iot.py
	$(BIN)/python bench/ngsild.py

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

## make messages: refresh the message catalogues from the code and templates
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k gettext:2 -o src/smartcity/locale/messages.pot --no-location --sort-output --omit-header src
	$(BIN)/pybabel update -i src/smartcity/locale/messages.pot -d src/smartcity/locale --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf var/ .pytest_cache .ruff_cache .mypy_cache test-artifacts
