# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.requirements.installed
PORT   ?= 8501
# Loopback by default (the app writes to the shared index); HOST=0.0.0.0 opens it up.
HOST   ?= 127.0.0.1

.PHONY: setup run test lint format bench clean-data

# (Re)install only when requirements.txt changed since the last install.
$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@cp requirements.txt $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/python -m recsys prepare
	$(BIN)/python -m ui.serve --server.address $(HOST) --server.port $(PORT) --browser.gatherUsageStats false

test: setup
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	$(BIN)/python -m recsys bench

clean-data:
	-$(BIN)/python -m recsys redis stop
	rm -rf data/restaurants data/redis data/model data/web data/*.jsonl data/*.csv
