# One command each: `make demo` installs eltops (and nothing else) and runs the demo; `make check` also installs the
# dev toolchain and runs lint, type check and every test (what CI runs).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed

.PHONY: install demo check lint typecheck test bench clean dist lint-ship

# what the demo needs: eltops with the report extra (the demo ends with a report)
$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[report]'
	touch $(RUN_STAMP)

# what development needs on top: the test, lint and type-check toolchain, fakesnow, the Snowflake CLI
$(STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(RUN_STAMP)
	$(BIN)/eltops demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP)
	$(BIN)/python -m pytest

check: lint lint-ship typecheck test

# the wheel and sdist a release publishes, checked as PyPI will
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist
	$(BIN)/twine check --strict dist/*

# the ways CI users pick eltops up: the GitHub Action, the GitLab components, the DataOps runner image
lint-ship: $(STAMP)
	$(BIN)/python scripts/lint-ship.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache dist
