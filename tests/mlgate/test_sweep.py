"""`mlgate sweep`: a declared search space run as DVC experiments through DVC's queue, then
ranked by the gates; a failed trial is recorded and the sweep goes on."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlgate.cli import cli
from mlgate.errors import ConfigError
from mlgate.experiments import list_experiments
from mlgate.sweep import Space, load, propose
from tests.mlgate.registry_repo import chdir
from tests.mlgate.repo_factory import ScratchRepo
from tests.mlgate.repro_repo import _two_stage_template, run_log, two_stage

__all__ = ["_two_stage_template", "run_log", "two_stage"]  # fixtures, imported for pytest


def mlgate(root: Path, *args: str) -> Result:
    with chdir(root):
        return CliRunner().invoke(cli, list(args))


def write_sweep(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the search space (no DVC) --------------------------------------------------------------


def test_grid_walks_every_combination_in_order(tmp_path: Path) -> None:
    sweep = load(
        write_sweep(
            tmp_path,
            "sampler: grid\ntrials: 100\nparams:\n"
            "  train.lr: {low: 0.01, high: 1.0, log: true, steps: 3}\n"
            "  train.depth: [3, 5]\n",
        )
    )
    trials = propose(sweep)
    assert [t.values for t in trials] == [
        {"train.lr": 0.01, "train.depth": 3},
        {"train.lr": 0.01, "train.depth": 5},
        {"train.lr": 0.1, "train.depth": 3},
        {"train.lr": 0.1, "train.depth": 5},
        {"train.lr": 1.0, "train.depth": 3},
        {"train.lr": 1.0, "train.depth": 5},
    ]
    assert trials[0].name == "sweep-000"
    assert trials[0].overrides() == ["train.lr=0.01", "train.depth=3"]
    assert len(propose(sweep, trials=4)) == 4


def test_random_is_seeded_and_within_bounds(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        "sampler: random\ntrials: 50\nseed: 7\nparams:\n"
        "  a: {low: 1, high: 4, type: int}\n  b: {low: 0.5, high: 0.9}\n",
    )
    first, again = propose(load(path)), propose(load(path))
    assert [t.values for t in first] == [t.values for t in again]
    assert {t.values["a"] for t in first} == {1, 2, 3, 4}
    assert all(0.5 <= t.values["b"] <= 0.9 for t in first)
    assert Space("x", low=1.0, high=100.0, log=True).sample(random.Random(1)) > 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("params: {}\n", "params: expected a mapping"),
        ("sampler: bayes\nparams: {a: [1]}\n", "sampler: expected one of grid, random, tpe"),
        ("params: {a: {low: 2, high: 1}}\n", "expected low < high"),
        ("params: {a: {low: 0, high: 1, log: true}}\n", "low > 0 on a log scale"),
        ("params: {a: {choices: []}}\n", "choices: expected a non-empty list"),
        ("trials: 0\nparams: {a: [1]}\n", "trials: expected a whole number from 1"),
        ("tirals: 3\nparams: {a: [1]}\n", "unknown key(s) tirals"),
        ("params: {'a=b': [1]}\n", "a dotted params.yaml key"),
    ],
)
def test_bad_sweep_files_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(write_sweep(tmp_path, text))


# --- run as DVC experiments -----------------------------------------------------------------


def test_grid_sweep_runs_in_dvcs_queue_and_ranks_by_the_gates(two_stage: ScratchRepo) -> None:
    (two_stage.root / "sweep.yaml").write_text(
        "name: q\nsampler: grid\njobs: 2\nparams:\n  train.quality: [0.9, 0.97, boom, 0.95]\n",
        encoding="utf-8",
    )
    listed = mlgate(two_stage.root, "sweep", "--dry-run")
    assert listed.output.splitlines()[2] == "q-002  train.quality=boom"
    result = mlgate(two_stage.root, "sweep")
    assert result.exit_code == 0, result.output
    # the trial whose train fails (a text quality) is reported and the others still ran
    assert "trial q-002 failed" in result.output
    names = {exp.name for exp in list_experiments(two_stage.root)}
    assert names == {"q-000", "q-001", "q-003"}
    ranked = json.loads(mlgate(two_stage.root, "experiments", "--format", "json").output)
    assert [(e["name"], e["verdict"]) for e in ranked["experiments"]] == [
        ("q-001", "pass"),
        ("q-003", "pass"),
        ("q-000", "fail"),
    ]
    again = mlgate(two_stage.root, "sweep")
    assert again.exit_code == 2
    assert "exist already" in again.output


def test_shards_split_the_trials(two_stage: ScratchRepo) -> None:
    (two_stage.root / "sweep.yaml").write_text(
        "name: s\nparams:\n  train.quality: [0.93, 0.94, 0.95, 0.96, 0.97]\n", encoding="utf-8"
    )
    shards = [
        mlgate(two_stage.root, "sweep", "--dry-run", "--shard", f"{i}/2").output.split()[::2]
        for i in range(2)
    ]
    assert shards == [["s-000", "s-002", "s-004"], ["s-001", "s-003"]]
    assert mlgate(two_stage.root, "sweep", "--shard", "2/2").exit_code == 2


def test_tpe_asks_in_batches_and_learns_from_the_gates(two_stage: ScratchRepo) -> None:
    (two_stage.root / "sweep.yaml").write_text(
        "name: t\nsampler: tpe\ntrials: 4\njobs: 2\nseed: 3\n"
        "params:\n  train.quality: {low: 0.85, high: 0.99}\n",
        encoding="utf-8",
    )
    result = mlgate(two_stage.root, "sweep")
    assert result.exit_code in (0, 1), result.output
    names = sorted(exp.name for exp in list_experiments(two_stage.root))
    assert names == ["t-000", "t-001", "t-002", "t-003"]
    assert "experiment(s) run from HEAD" in result.output
