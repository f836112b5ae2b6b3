# Junction — the two commands: `make run` and `make test`.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PY_SRC := libs services tests deploy

.PHONY: run test check bench setup uv caddy browser isolation clean

run: setup caddy ## start mock LLM + control + engine + Caddy on :8080 (ENGINES=3: three engines)
	$(UV) run --no-sync python deploy/local/run.py

test: setup caddy browser ## the whole suite (SQLite always; PostgreSQL and Redis where reachable)
	$(UV) run --no-sync pytest

check: setup isolation ## ruff, mypy (strict), the import contracts, each service on its own
	$(UV) run --no-sync ruff check $(PY_SRC)
	$(UV) run --no-sync ruff format --check $(PY_SRC)
	$(UV) run --no-sync mypy
	$(UV) run --no-sync lint-imports

bench: setup caddy ## benchmarks, ratios measured in one run (BENCH_ARGS=--quick: ~3 minutes)
	@command -v wrk >/dev/null 2>&1 || { \
		echo "installing wrk from Debian's packages"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk; }
	$(UV) run --no-sync python -m tests.bench $(BENCH_ARGS)

# Each service installs and imports with only its own dependency closure; the
# engine's environment must not even contain the database or RBAC packages.
ISOLATION_DIR ?= $(or $(TMPDIR),/tmp)/junction-isolation
isolation: uv
	@for svc in engine control mockllm; do \
		UV_PROJECT_ENVIRONMENT=$(ISOLATION_DIR)/$$svc $(UV) sync -q --locked --no-dev --package junction-$$svc || exit 1; \
		$(ISOLATION_DIR)/$$svc/bin/python -c "import junction_$${svc}.app" || exit 1; \
		echo "junction-$$svc installs and imports on its own"; \
	done
	@for mod in sqlmodel sqlalchemy asyncpg aiosqlite casbin alembic; do \
		if $(ISOLATION_DIR)/engine/bin/python -c "import $$mod" 2>/dev/null; then \
			echo "the engine's environment contains $$mod"; exit 1; fi; \
	done

setup: uv
	$(UV) sync --all-packages --locked

uv:
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || \
		python3 -m pip install --user --quiet uv || python3 -m pip install --quiet uv

caddy:
	@command -v caddy >/dev/null 2>&1 || { \
		echo "installing caddy from Debian's packages"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq caddy; }

browser:
	@test -x /usr/bin/chromium || { \
		echo "installing chromium from Debian's packages (console tests)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
