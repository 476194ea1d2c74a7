# The README's two commands are `make demo` and `make test`; both start with
# the idempotent `make setup`.
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup demo test lint typecheck pytest bench bench-quick fixtures clean

setup:
	@bash scripts/setup.sh

# Capture the bundled demo agent against the local stand-in provider, then
# analyse the capture.  Capture needs root; analysis runs as you.
demo: setup
	@bash scripts/demo.sh

test: setup lint typecheck pytest

lint:
	$(VENV)/bin/ruff check heron tests bench
	$(VENV)/bin/ruff format --check heron tests bench

typecheck:
	$(VENV)/bin/mypy

# The real eBPF tests need root: run pytest through sudo when not root.
pytest:
	$(SUDO) env "PATH=$$PATH" HERON_REQUIRE_BPF=$${HERON_REQUIRE_BPF:-} $(PY) -m pytest -q

bench: setup
	$(SUDO) $(PY) -m bench

bench-quick: setup
	$(SUDO) $(PY) -m bench --quick

# Re-record the real captures in tests/fixtures (root).
fixtures: setup
	$(SUDO) $(PY) -m tests.fixtures.record

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache demo.heron
