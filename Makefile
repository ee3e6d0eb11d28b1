# Jiyn developer commands. Each target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: console test lint bench install

$(BIN)/jiyn: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/jiyn

install: $(BIN)/jiyn

# Chat with the bot in this terminal: no token, no network.
console: install
	$(BIN)/jiyn console

# The whole test suite. PostgreSQL tests run when JIYN_TEST_POSTGRES_URL is set
# (.ci/run starts a server and sets it, and requires them with JIYN_REQUIRE_POSTGRES=1).
test: install
	$(BIN)/ruff check bot handlers knowledge tests bench migrations
	$(BIN)/mypy
	$(BIN)/jiyn kb check
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check bot handlers knowledge tests bench migrations
	$(BIN)/mypy

bench: install
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench
