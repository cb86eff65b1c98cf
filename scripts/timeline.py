"""A year in production, replayed locally (issue 19; ``python -m scripts.local_ci --timeline``).

Runs the real workflow jobs (``release.yml``, ``monitor.yml``'s ``batch`` and ``retrain``)
through ``scripts.job_runner``'s job runner, against a local bare git remote, moto's S3 server
on 127.0.0.1 as the DVC remote, and the local stand-in for the GitHub API:

1. the commit under test is ``main``; ``release`` tags v1 and a person promotes it to prod;
2. every month a batch arrives, drawn from the published test split (adult.test) with a
   covariate shift that grows month by month (older, longer hours, more men) and, from
   ``--concept-from`` on, a concept change in one subgroup (men in executive and
   professional occupations: their high incomes now read as low); its labels arrive one
   month late;
3. each month the ``batch`` job judges last month's labels (realized performance), scores
   the new batch with the model prod holds, monitors and gates it, and commits the record;
   when a gate fails, the ``retrain`` job opens (or updates) the retraining pull request;
4. a person merges a retraining pull request that passes its release gates, ``release``
   tags it and the person promotes it to prod, so the next months are scored by the new
   version; a failing one stays open for people to read.

One line per month (the version in prod, estimated and realized ROC AUC, the gates, the
actions taken), then the tags on the remote. Every decision can be traced afterwards from
git alone: ``monitoring/batches/<id>.json`` names the version that scored each batch,
``ingest.train_batches`` at a release's commit names the batches it was trained on, and the
merge commit names the pull request and the gate that started it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scripts.job_runner import (
    DEFAULT_BRANCH,
    Event,
    FakeGitHubState,
    JobResult,
    JobRunner,
    LocalCIError,
    clone,
    fake_github,
    git,
    remote_tags,
)

BUCKET = "mlgate-timeline"
SEED = 20270101
TEST_SPLIT = Path("data/raw/adult.test.gz")
COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
]  # fmt: skip
TARGET, POSITIVE, NEGATIVE = "income", ">50K", "<=50K"
CONCEPT_OCCUPATIONS = ("Exec-managerial", "Prof-specialty")


@dataclass(frozen=True)
class Month:
    name: str  # the batch id, 2027-01
    batch: Path  # the inputs with an id column (parquet)
    labels: Path  # id and the target


def read_test_split(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(
        path, names=COLUMNS, na_values="?", skipinitialspace=True, comment="|", header=None
    )
    frame[TARGET] = frame[TARGET].str.rstrip(".")
    return frame


def make_months(
    test_split: Path,
    folder: Path,
    months: int,
    rows: int,
    concept_from: int,
    shift: float = 0.8,
) -> list[Month]:
    """The monthly batches and their labels, seeded. A month draws ``rows`` distinct people
    of the test split, weighted by ``exp(strength * pull)`` where ``pull`` grows with age,
    hours per week and being a man, and ``strength`` grows linearly from 0 in the first month
    to ``shift`` in the last. The census weight ``fnlwgt`` is jittered by up to 5%, so that a
    person drawn again in a later month is another record (production data does not repeat
    itself row for row, and training data refuses more than 1% duplicates). From month
    ``concept_from`` on, the high incomes of the subgroup read as low."""
    rng = np.random.default_rng(SEED)
    pool = read_test_split(test_split)

    def z(column: str) -> pd.Series:
        return (pool[column] - pool[column].mean()) / pool[column].std()

    pull = (z("age") + z("hours-per-week") + (pool["sex"] == "Male") * 1.0).to_numpy()
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for index in range(months):
        name = f"2027-{index + 1:02d}"
        strength = shift * index / max(months - 1, 1)
        weights = np.exp(strength * pull)
        picked = rng.choice(len(pool), size=rows, replace=False, p=weights / weights.sum())
        drawn = pool.iloc[picked].reset_index(drop=True)
        jitter = rng.uniform(0.95, 1.05, size=rows)
        drawn["fnlwgt"] = np.maximum((drawn["fnlwgt"] * jitter).round(), 1).astype("int64")
        ids = np.arange(rows, dtype=np.int64) + (index + 1) * 1_000_000
        labels = drawn[TARGET].copy()
        if index + 1 >= concept_from:
            labels[_in_subgroup(drawn) & (labels == POSITIVE).to_numpy()] = NEGATIVE
        inputs = drawn.drop(columns=[TARGET])
        inputs.insert(0, "id", ids)
        month = Month(name, folder / f"{name}.parquet", folder / f"{name}-labels.parquet")
        inputs.to_parquet(month.batch, index=False)
        pd.DataFrame({"id": ids, TARGET: labels.to_numpy()}).to_parquet(month.labels, index=False)
        out.append(month)
    return out


def _in_subgroup(frame: pd.DataFrame) -> np.ndarray:
    return ((frame["sex"] == "Male") & frame["occupation"].isin(CONCEPT_OCCUPATIONS)).to_numpy()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 with the timeline's bucket; its endpoint URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    os.environ.pop("AWS_PROFILE", None)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=10).close()
        create = urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT")
        urllib.request.urlopen(create, timeout=10).close()
        yield endpoint
    finally:
        server.stop()


@dataclass
class Timeline:
    repo: Path
    scratch: Path
    log: Any
    runner: JobRunner = field(init=False)
    remote: Path = field(init=False)
    person: Path = field(init=False)
    secrets: dict[str, str] = field(default_factory=dict)
    github: FakeGitHubState = field(default_factory=FakeGitHubState)
    jobs: list[JobResult] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    clones: int = 0

    def __post_init__(self) -> None:
        self.runner = JobRunner(self.scratch, Path(sys.prefix), self.log)
        self.remote = self.scratch / "remote.git"

    def say(self, text: str) -> None:
        print(text, file=self.log, flush=True)

    def workspace(self, name: str) -> Path:
        self.clones += 1
        return clone(
            self.remote,
            self.scratch / "jobs" / f"{self.clones:02d}-{name}",
            DEFAULT_BRANCH,
            self.runner.venv,
        )

    def head(self) -> str:
        return git(self.remote, "rev-parse", f"refs/heads/{DEFAULT_BRANCH}")

    def mlgate(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "mlgate", *args],
            cwd=self.person,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise LocalCIError(f"mlgate {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip()

    def release(self, before: str) -> str:
        """release.yml on the push of main's head; the version it tagged."""
        sha = self.head()
        push = Event(
            "push",
            sha,
            f"refs/heads/{DEFAULT_BRANCH}",
            {"repository": {"default_branch": DEFAULT_BRANCH}, "before": before, "after": sha},
            secrets=self.secrets,
        )
        job = self.runner.run(
            self.repo / ".github/workflows/release.yml", "release", self.workspace("release"), push
        )
        self.jobs.append(job)
        tags = [t for t, at in remote_tags(self.remote).items() if at == sha and "@v" in t]
        if job.result != "success" or not tags:
            raise LocalCIError(f"release of {sha[:12]} failed")
        return tags[0].split("@", 1)[1]

    def promote(self, version: str) -> None:
        """A person promotes ``version`` through dev and staging to prod (tags pushed)."""
        git(self.person, "fetch", "-q", "--tags", "origin")
        git(self.person, "merge", "-q", "--ff-only", f"origin/{DEFAULT_BRANCH}")
        for stage in ("dev", "staging", "prod"):
            self.mlgate("promote", version, stage)

    def dispatch(self, inputs: dict[str, str], api_url: str) -> Event:
        sha = self.head()
        return Event(
            "workflow_dispatch",
            sha,
            f"refs/heads/{DEFAULT_BRANCH}",
            {"inputs": inputs, "repository": {"default_branch": DEFAULT_BRANCH}},
            secrets=self.secrets,
            inputs=inputs,
            api_url=api_url,
        )


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _auc(metrics: Any, kind: str) -> str:
    value = (metrics.get(kind) or {}).get("roc_auc") if isinstance(metrics, dict) else None
    return f"{value:.3f}" if isinstance(value, (int, float)) else "  -  "


def _failed(gate: Any) -> list[str]:
    rules = gate.get("rules") if isinstance(gate, dict) else None
    return [
        str(r.get("metric"))
        for r in rules or []
        if r.get("passed") is False and r.get("severity") == "fail"
    ]


def run_timeline(
    repo: Path,
    scratch: Path,
    months: int = 12,
    rows: int = 4000,
    concept_from: int = 7,
    shift: float = 0.8,
    log: Any = None,
) -> Timeline:
    log = log or sys.stdout
    repo = Path(git(repo, "rev-parse", "--show-toplevel"))
    head = git(repo, "rev-parse", "HEAD^{commit}")
    scratch.mkdir(parents=True, exist_ok=True)
    line = Timeline(repo, scratch, log)
    git(scratch, "init", "-q", "--bare", "--initial-branch", DEFAULT_BRANCH, str(line.remote))
    git(repo, "push", "-q", str(line.remote), f"{head}:refs/heads/{DEFAULT_BRANCH}")
    calendar = make_months(
        repo / TEST_SPLIT, scratch / "landing", months, rows, concept_from, shift
    )
    line.say(
        f"timeline: scratch {scratch}; {months} monthly batches of {rows:,} rows from "
        f"{TEST_SPLIT}, covariate shift growing to {shift}, concept change from month "
        f"{concept_from}"
    )
    with s3_endpoint() as endpoint, fake_github(line.github) as api_url:
        line.secrets = {
            "DVC_REMOTE_URL": f"s3://{BUCKET}/dvc",
            "DVC_REMOTE_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        line.person = clone(line.remote, scratch / "you", DEFAULT_BRANCH, line.runner.venv)
        version = line.release(before="0" * 40)
        line.promote(version)
        line.say(f"timeline: released {version} and promoted it to prod")
        prod = version
        for index, month in enumerate(calendar):
            previous = calendar[index - 1] if index else None
            inputs = {
                "source": str(month.batch),
                "labels": str(previous.labels) if previous else "",
                "labels_batch": previous.name if previous else "",
                "retrain": "",
            }
            batch_job = line.runner.run(
                repo / ".github/workflows/monitor.yml",
                "batch",
                line.workspace(f"batch-{month.name}"),
                line.dispatch(inputs, api_url),
            )
            line.jobs.append(batch_job)
            folder = Path(batch_job_dir(line))
            labelled, judged = _read(folder / "labelled.json"), _read(folder / "batch.json")
            failed = _failed(_read(folder / "labelled-gate.json")) + _failed(
                _read(folder / "batch-gate.json")
            )
            actions: list[str] = []
            if not judged:
                actions.append("batch job FAILED")
            if batch_job.outputs.get("decay") == "true":
                retrain = line.runner.run(
                    repo / ".github/workflows/monitor.yml",
                    "retrain",
                    line.workspace(f"retrain-{month.name}"),
                    line.dispatch(inputs, api_url),
                    needs={"batch": {"result": batch_job.result, "outputs": batch_job.outputs}},
                )
                line.jobs.append(retrain)
                pulls = [p for p in line.github.opened if p["state"] == "open"]
                if retrain.result != "success" or not pulls:
                    actions.append("retrain job FAILED")
                else:
                    pull = pulls[-1]
                    if "[failing release gates]" in pull["title"]:
                        actions.append(f"PR #{pull['number']} fails its release gates: left open")
                    else:
                        before = line.head()
                        git(line.person, "fetch", "-q", "origin")
                        git(line.person, "merge", "-q", "--ff-only", f"origin/{DEFAULT_BRANCH}")
                        git(
                            line.person,
                            "-c",
                            "user.name=You",
                            "-c",
                            "user.email=you@example.com",
                            "merge",
                            "-q",
                            "--no-ff",
                            f"origin/{pull['head']}",
                            "-m",
                            f"Merge pull request #{pull['number']}: {pull['title']}",
                        )
                        git(line.person, "push", "-q", "origin", DEFAULT_BRANCH)
                        pull["state"] = "closed"
                        prod = line.release(before)
                        line.promote(prod)
                        actions.append(
                            f"PR #{pull['number']} merged, released {prod}, promoted to prod"
                        )
            text = (
                f"{month.name}  prod {judged.get('model_version', prod):<7} "
                f"est AUC {_auc(judged, 'estimated')}  "
                f"realized AUC {_auc(labelled, 'realized')} ({previous.name if previous else '-'})"
                f"  gates {'FAIL ' + ','.join(failed) if failed else 'pass'}"
                f"  {'; '.join(actions) or '-'}"
            )
            line.lines.append(text)
            line.say(f"timeline: {text}")
    line.say("\n=== the year, month by month")
    for text in line.lines:
        line.say(f"  {text}")
    line.say("=== tags on the remote")
    for tag in sorted(remote_tags(line.remote), key=_tag_order):
        line.say(f"  {tag}")
    return line


def _tag_order(tag: str) -> tuple[int, tuple[int, ...], str]:
    """Release tags by version, then stage tags in the order they were made (#N)."""
    if "@v" in tag:
        parts = tag.split("@v", 1)[1].split(".")
        return (0, tuple(int(p) if p.isdigit() else 0 for p in parts), tag)
    number = tag.rsplit("#", 1)[-1]
    return (1, (int(number) if number.isdigit() else 0,), tag)


def batch_job_dir(line: Timeline) -> str:
    """build/monitor of the batch job that just ran (its uploaded artifact)."""
    return str(line.runner.artifacts / "monitoring-gates")


def main(
    repo: Path, scratch: Path, months: int, rows: int, concept_from: int, shift: float = 0.8
) -> int:
    try:
        line = run_timeline(repo, scratch, months, rows, concept_from, shift)
    except LocalCIError as exc:
        print(f"timeline: error: {exc}", file=sys.stderr)
        return 2
    return 0 if all(job.result != "failure" or job.job == "batch" for job in line.jobs) else 1


if __name__ == "__main__":  # pragma: no cover - use python -m scripts.local_ci --timeline
    sys.exit(main(Path("."), Path(sys.argv[1]), 12, 4000, 7))
