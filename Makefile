# Two commands: `make demo` runs the main job, `make test` runs the test suite.
# Both create the virtual environment ($(VENV)) on first use.
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: env demo test lint format clean

env:
	@bash scripts/ensure_env.sh $(VENV)

demo: env
	$(BIN)/hicd demo $(DEMO_ARGS)

test: env
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: env
	$(BIN)/ruff check src tests benchmarks

format: env
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf demo-output .pytest_cache .ruff_cache .import_linter_cache
