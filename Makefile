# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW := ignore

.PHONY: install lock demo test lint bench clean

install: $(STAMP)

# The venv installs exactly the compiled lock (every package, transitive ones included, pinned with its
# hashes), then lofte itself without dependencies: an install today and one next year are the same set.
# uv installs it in seconds; pip is the fallback when uv cannot be had. Bytecode is compiled at install:
# where PYTHONDONTWRITEBYTECODE is set every command would otherwise compile Prefect anew (its start-up
# went from 14.5 s to 25 s here without it).
$(STAMP): pyproject.toml requirements.lock requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION) || true
	if test -x $(BIN)/uv; then \
		$(BIN)/uv pip install -q --compile-bytecode --require-hashes --python $(BIN)/python -r requirements-dev.lock && \
		$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python --no-deps -e . && \
		$(BIN)/uv pip check -q --python $(BIN)/python; \
	else \
		$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements-dev.lock && \
		$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e . && \
		$(BIN)/python -m pip check; \
	fi
	touch $(STAMP)

# Regenerates both locks from pyproject.toml after a pin changes there (then `make install`). They are
# universal (every platform's markers and hashes), so the Linux image and any developer's machine agree.
LOCK := $(BIN)/uv pip compile -q --universal --generate-hashes --python-version 3.11
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(LOCK) pyproject.toml -o requirements.lock
	$(LOCK) --extra dev pyproject.toml -o requirements-dev.lock

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
	rm -rf $(VENV) demo lofte.duckdb lofte.duckdb.wal lofte.duckdb.staging .pytest_cache .mypy_cache .ruff_cache
