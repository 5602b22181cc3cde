# marketpipe — `make demo` runs the whole system offline; `make test` runs every check.
# Both work on a fresh machine with python3 and make: they build .venv and install what they need.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

# Fragments in mk/*.mk add their own targets and extend these lists.
TEST_PREREQS :=
DEMO_STEPS :=
-include mk/*.mk

.PHONY: help venv lint typecheck test test-fast demo bench down clean
help:
	@echo "make demo   - run the whole system offline (embedded services + simulator)"
	@echo "make test   - lint, type-check and run the test suite against real services"
	@echo "make test-fast - the tests that need no service (pure logic, literal replies): seconds"
	@echo "make bench  - run the benchmarks in bench/ (prints ratios against baselines)"
	@echo "make down   - stop embedded services started by the demo"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,airflow,tansu]'
	@touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check src tests bench dags
	$(BIN)/ruff format --check src tests bench dags

typecheck: venv
	$(BIN)/mypy

test: venv lint typecheck $(TEST_PREREQS)
	$(BIN)/pytest $(PYTEST_ARGS)

# The edit loop: no service is started (see `--fast` in tests/conftest.py); `make test` stays the gate.
test-fast: venv
	$(BIN)/pytest --fast -q -p no:cacheprovider $(PYTEST_ARGS)

demo: venv $(DEMO_STEPS)
	$(BIN)/marketpipe demo

bench: venv $(TEST_PREREQS)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

down: venv
	$(BIN)/marketpipe down

clean: down
	rm -rf .marketpipe
