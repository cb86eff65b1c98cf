# Targets mirror the README. Everything runs inside .venv.
VENV ?= .venv
BIN := $(VENV)/bin
export DVC_NO_ANALYTICS := 1

.PHONY: install dev repro test lint typecheck

install:
	python3 -m venv $(VENV) && $(BIN)/pip install -e .

dev:
	python3 -m venv $(VENV) && $(BIN)/pip install -e ".[dev]"

repro: install
	$(BIN)/dvc repro

test: dev
	$(BIN)/python -m pytest

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy
