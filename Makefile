# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW := ignore

.PHONY: install demo test lint bench clean

install: $(STAMP)

# uv installs the pinned set in seconds; pip is the fallback when uv cannot be had. Bytecode is compiled
# at install: where PYTHONDONTWRITEBYTECODE is set every command would otherwise compile Prefect anew
# (its start-up went from 14.5 s to 25 s here without it).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.9 || true
	if test -x $(BIN)/uv; then $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'; \
	else $(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'; fi
	touch $(STAMP)

demo: install
	rm -rf demo lofte.duckdb lofte.duckdb.wal
	$(BIN)/lofte sample demo --year 2019
	$(BIN)/lofte run --promises demo/config/promises/0484-2019.yaml --areas demo/config/areas.geojson \
		--status demo/inbox/status --storm demo/inbox/storm --activities demo/inbox/activities
	$(BIN)/lofte report --kommun 0484 --year 2019

test: install
	$(BIN)/python -m pytest -n 2 -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) demo lofte.duckdb lofte.duckdb.wal .pytest_cache .mypy_cache .ruff_cache
