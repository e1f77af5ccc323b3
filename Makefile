# One command each: `make demo` installs eltops (and nothing else) and runs the demo; `make check` also installs the
# dev toolchain and runs lint, type check and every test (what CI runs).
#
# Every package comes from a lock file in requirements/ (exact versions and their hashes), so a commit checks the
# same way next month whatever PyPI has published since: `make lock` adds what pyproject.toml newly asks for and
# keeps every other pin, `make lock-upgrade` moves everything to the newest versions the ranges allow (on purpose,
# in its own commit). `make check-oldest` installs the lowest versions pyproject.toml's ranges allow and runs the
# tests of the base install and the report against them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed
OLDEST := .venv-oldest
PIP_LOCKED = python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps
# eltops itself, editable, built by the locked hatchling (no isolated build environment fetching an unlocked one)
PIP_SELF = python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
UV_COMPILE = $(BIN)/uv pip compile --quiet --python-version 3.11 --python-platform linux
# the tests check-oldest runs: everything the base install and the report extra do (not the dev tools' own tests)
OLDEST_TESTS = tests/foundation tests/fivetran tests/fivetran_emulator tests/orchestra tests/orchestra_emulator \
	tests/load tests/warehouse tests/report tests/lineage

.PHONY: install demo check lint typecheck test bench clean dist lint-ship lock lock-upgrade check-oldest docs \
	docs-reference docs-check

# what the demo needs: eltops with the report extra (the demo ends with a report)
$(RUN_STAMP): pyproject.toml requirements/demo.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/$(PIP_LOCKED) -r requirements/demo.txt
	$(BIN)/$(PIP_SELF)
	touch $(RUN_STAMP)

# what development needs on top: the test, lint and type-check toolchain, fakesnow, the Snowflake CLI
$(STAMP): $(RUN_STAMP) requirements/dev.txt
	$(BIN)/$(PIP_LOCKED) -r requirements/dev.txt
	$(BIN)/python -m pip check
	touch $(STAMP)

install: $(STAMP)

demo: $(RUN_STAMP)
	$(BIN)/eltops demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts snowflake_app
	$(BIN)/ruff format --check src tests benchmarks scripts snowflake_app
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# four workers on two cores (most tests wait on sockets, subprocesses and clocks, not on the CPU), each module on
# one worker in order; then the packaging tests in one process, so the wheel and its venvs are built once
# (xdist's loadgroup cannot group them: pytest 9 no longer lets it rename the tests it groups)
test: $(STAMP)
	$(BIN)/python -m pytest -n 4 --dist loadfile --ignore=tests/packaging
	$(BIN)/python -m pytest tests/packaging

check: lint lint-ship typecheck docs-check test

# the documentation site (mkdocs.yml, docs/): `make docs` builds it into site/ (open site/index.html, search works
# offline); docs-reference rewrites docs/reference/ from the code (every command's --help, every variable);
# docs-check fails when the committed reference and the code disagree, then builds the site with --strict
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --quiet

docs-reference: $(STAMP)
	$(BIN)/python scripts/docs_reference.py

docs-check: $(STAMP)
	$(BIN)/python scripts/docs_reference.py --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --quiet --strict --site-dir $(VENV)/docs-check-site

# the lock files: dev.txt (everything make check installs), demo.txt (make demo: a subset of dev.txt's pins),
# constraints.txt (dev.txt without hashes, for fresh venvs and isolated builds),
# oldest.txt (the lowest versions the runtime ranges allow, with the test runner as dev.txt has it)
lock: $(STAMP)
	$(UV_COMPILE) --generate-hashes pyproject.toml requirements/build.in --extra dev -o requirements/dev.txt
	$(UV_COMPILE) --generate-hashes pyproject.toml requirements/build.in --extra report -c requirements/dev.txt \
		-o requirements/demo.txt
	{ echo "# dev.txt's pins without hashes, for pip's --constraint (PIP_CONSTRAINT): the isolated builds and fresh"; \
	  echo "# venvs the packaging tests and make dist make resolve to the locked versions. Written by make lock."; \
	  grep -E '^[A-Za-z0-9].*==' requirements/dev.txt | sed 's/ .*//'; } > requirements/constraints.txt
	grep -E '^(pip|hatchling|editables|pytest|pytest-timeout|pytest-xdist|execnet|hypothesis)==' requirements/dev.txt \
		| sed 's/ .*//' > requirements/oldest-tools.in
	rm -f requirements/oldest.txt  # no preferences from the last one: the lowest versions, afresh
	$(UV_COMPILE) --generate-hashes --resolution lowest-direct pyproject.toml requirements/oldest-tools.in \
		--extra report --extra snowflake -o requirements/oldest.txt

lock-upgrade: $(STAMP)
	$(UV_COMPILE) --generate-hashes --upgrade pyproject.toml requirements/build.in --extra dev -o requirements/dev.txt
	$(MAKE) lock

check-oldest:
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/$(PIP_LOCKED) -r requirements/oldest.txt
	$(OLDEST)/bin/$(PIP_SELF)
	$(OLDEST)/bin/python -m pytest -q -p no:cacheprovider -n 4 --dist loadfile -m "not fakesnow" $(OLDEST_TESTS) \
		--ignore=tests/warehouse/test_snowflake_target.py --ignore=tests/warehouse/test_schema_upgrade.py \
		--deselect=tests/foundation/test_lock_files.py::test_the_environment_is_the_dev_lock

# the wheel and sdist a release publishes, checked as PyPI will
dist: $(STAMP)
	rm -rf dist
	PIP_CONSTRAINT=requirements/constraints.txt $(BIN)/python -m build --outdir dist
	$(BIN)/twine check --strict dist/*

# the ways CI users pick eltops up: the GitHub Action, the GitLab components, the DataOps runner image
lint-ship: $(STAMP)
	$(BIN)/python scripts/lint-ship.py

clean:
	rm -rf $(VENV) $(OLDEST) .mypy_cache .ruff_cache .pytest_cache dist site
