"""`mlgate experiments`: DVC experiments, made by `dvc exp run` in a scratch project, ranked
by the gates of HEAD; the same experiments and numbers as `dvc exp show` reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from mlgate import experiments as experiments_module
from mlgate.cli import cli
from mlgate.experiments import list_experiments
from tests.mlgate.registry_repo import chdir
from tests.mlgate.repo_factory import ScratchRepo
from tests.mlgate.repro_repo import _two_stage_template, run_log, two_stage

__all__ = ["_two_stage_template", "run_log", "two_stage"]  # fixtures, imported for pytest
FORMATS = ("text", "json", "md")


def mlgate(root: Path, *args: str) -> Result:
    with chdir(root):
        return CliRunner().invoke(cli, list(args))


def exp_run(repo: ScratchRepo, name: str, quality: float) -> None:
    repo.dvc("exp", "run", "-q", "-n", name, "-S", f"train.quality={quality}")


@pytest.fixture
def tuned(two_stage: ScratchRepo) -> ScratchRepo:
    """Three experiments from HEAD: roc_auc 0.95 and 0.97 pass (min 0.92), 0.90 fails."""
    for name, quality in (("good", 0.95), ("weak", 0.90), ("best", 0.97)):
        exp_run(two_stage, name, quality)
    return two_stage


def ranking(repo: ScratchRepo, *args: str) -> tuple[int, dict]:
    result = mlgate(repo.root, "experiments", "--format", "json", *args)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.output)


def test_ranks_best_passing_first_with_dvcs_numbers(tuned: ScratchRepo) -> None:
    code, listing = ranking(tuned)
    assert code == 0
    names = [exp["name"] for exp in listing["experiments"]]
    assert names == ["best", "good", "weak"]
    assert [exp["verdict"] for exp in listing["experiments"]] == ["pass", "pass", "fail"]
    assert listing["experiments"][2]["failing"] == ["roc_auc", "accuracy"]
    assert listing["experiments"][0]["params"] == {
        "train.quality": {"baseline": 0.93, "experiment": 0.97}
    }
    # the same experiments, commits and metrics as DVC's own listing
    shown = json.loads(tuned.dvc("exp", "show", "--json").stdout)
    by_dvc = {
        exp["name"]: (
            exp["rev"],
            exp["data"]["metrics"]["metrics/metrics.json"]["data"]["roc_auc"],
        )
        for commit in shown
        for run in commit.get("experiments") or []
        for exp in run["revs"]
    }
    ours = {exp["name"]: (exp["sha"], exp["main_value"]) for exp in listing["experiments"]}
    assert ours == by_dvc


def test_text_and_markdown(tuned: ScratchRepo) -> None:
    text = mlgate(tuned.root, "experiments")
    assert text.exit_code == 0
    lines = text.output.splitlines()
    assert lines[0].split()[:2] == ["#", "verdict"]
    assert lines[2].split()[:3] == ["1", "PASS", "best"]
    assert "train.quality=0.97" in lines[2]
    assert lines[-1].startswith("2 of 3 experiment(s) run from HEAD (")
    assert "pass the gates of params.yaml at HEAD" in lines[-1]
    md = mlgate(tuned.root, "experiments", "--format", "md").output
    assert "| ✅ 1 | `best` | 0.97 | `train.quality`: 0.93 → 0.97 | – |" in md
    assert "| ❌ 3 | `weak` |" in md


def test_none_passing_exits_1_and_none_at_all_says_so(two_stage: ScratchRepo) -> None:
    empty = mlgate(two_stage.root, "experiments")
    assert empty.exit_code == 1
    assert "no DVC experiments run from HEAD" in empty.output
    exp_run(two_stage, "weak", 0.90)
    code, listing = ranking(two_stage)
    assert code == 1
    assert [exp["verdict"] for exp in listing["experiments"]] == ["fail"]


def test_experiments_of_other_commits_need_all(tuned: ScratchRepo) -> None:
    tuned.write("notes.txt", "a later commit")
    tuned.commit("later")
    assert ranking(tuned)[1]["experiments"] == []
    code, listing = ranking(tuned, "--all")
    assert code == 0
    assert len(listing["experiments"]) == 3
    assert listing["scope"] == "of all commits"


def test_gates_are_heads_not_the_experiments(tuned: ScratchRepo) -> None:
    """An experiment that loosens the gates in its own params.yaml is judged by HEAD's."""
    tuned.dvc(
        "exp", "run", "-q", "-n", "lenient", "-S", "train.quality=0.80",
        "-S", "gates.rules=[{metric: roc_auc, direction: higher, min: 0.5}]",
    )  # fmt: skip
    listing = ranking(tuned)[1]
    lenient = next(exp for exp in listing["experiments"] if exp["name"] == "lenient")
    assert lenient["verdict"] == "fail"
    assert lenient["failing"] == ["roc_auc", "accuracy"]
    own = yaml.safe_load(tuned.git("show", f"{lenient['sha']}:params.yaml"))
    assert own["gates"]["rules"] == [{"metric": "roc_auc", "direction": "higher", "min": 0.5}]


def test_a_forged_experiment_is_an_error_row_not_a_pass(tuned: ScratchRepo) -> None:
    """An experiment ref pointing at a commit whose metrics contradict its dvc.lock (edited
    by hand and pushed, say) is reported as an error; the others are still ranked. (A lock
    patched to match forged numbers is what `mlgate reproduce` catches in CI, where the
    pull request made from an experiment is judged.)"""
    tuned.dvc("exp", "apply", "weak")
    tuned.write("metrics/metrics.json", json.dumps({"roc_auc": 0.99, "accuracy": 0.99}))
    tuned.git("add", "-A")
    tuned.git("commit", "-q", "-m", "forged")
    forged = tuned.git("rev-parse", "HEAD").strip()
    base = tuned.git("rev-parse", "HEAD~1").strip()
    tuned.git("update-ref", f"refs/exps/{base[:2]}/{base[2:]}/forged", forged)
    tuned.git("reset", "-q", "--hard", "HEAD~1")
    names = {exp.name for exp in list_experiments(tuned.root)}
    assert names == {"best", "good", "weak", "forged"}
    code, listing = ranking(tuned)
    assert code == 0
    forged_row = listing["experiments"][-1]
    assert forged_row["name"] == "forged"
    assert forged_row["verdict"] == "error"
    assert "dvc.lock" in forged_row["error"]


def test_dvcs_own_refs_are_not_experiments(tuned: ScratchRepo) -> None:
    head = tuned.git("rev-parse", "HEAD").strip()
    tuned.git("update-ref", "refs/exps/exec/EXEC_HEAD", head)
    tuned.git("update-ref", "refs/exps/celery/stash", head)
    assert {exp.name for exp in list_experiments(tuned.root)} == {"best", "good", "weak"}


def kept_file(repo: ScratchRepo) -> Path:
    return repo.root / ".git" / "mlgate" / "experiments"


def test_a_repeat_ranking_reads_kept_verdicts_and_says_the_same(
    tuned: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second ranking judges nothing again (``check`` is never called) and prints the
    same bytes in every format; the file holds one record per experiment."""
    first = {fmt: mlgate(tuned.root, "experiments", "--format", fmt).output for fmt in FORMATS}
    assert kept_file(tuned).exists()

    def judged_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("an experiment was judged again")

    monkeypatch.setattr(experiments_module, "check", judged_again)
    again = {fmt: mlgate(tuned.root, "experiments", "--format", fmt).output for fmt in FORMATS}
    assert again == first
    body = kept_file(tuned).read_bytes().partition(b"\n")[2]
    assert len(json.loads(body)) == 3


def test_kept_verdicts_follow_the_gates_the_baseline_and_the_experiments(
    tuned: ScratchRepo,
) -> None:
    """Other gates, a deleted experiment, a damaged file: never a verdict that is not today's."""
    before = ranking(tuned)[1]
    # stricter gates in HEAD (a new commit: experiments of the old HEAD need --all)
    params = yaml.safe_load((tuned.root / "params.yaml").read_text())
    params["gates"]["rules"][0]["min"] = 0.96
    tuned.write("params.yaml", yaml.safe_dump(params, sort_keys=False))
    tuned.commit("stricter gates")
    stricter = ranking(tuned, "--all")[1]
    assert [exp["verdict"] for exp in stricter["experiments"]] == ["pass", "fail", "fail"]
    assert [exp["verdict"] for exp in before["experiments"]] == ["pass", "pass", "fail"]
    # a deleted experiment leaves the file when it is next written
    weak = next(exp for exp in list_experiments(tuned.root) if exp.name == "weak")
    tuned.git("update-ref", "-d", f"refs/exps/{weak.parent[:2]}/{weak.parent[2:]}/weak")
    assert [exp["name"] for exp in ranking(tuned, "--all")[1]["experiments"]] == ["best", "good"]
    body = kept_file(tuned).read_bytes().partition(b"\n")[2]
    assert all(" " in key for key in json.loads(body))
    assert len({key.split()[0] for key in json.loads(body)}) == 2
    # a damaged file is as good as none, and is written anew
    kept_file(tuned).write_bytes(kept_file(tuned).read_bytes()[:-5] + b"xxxxx")
    assert ranking(tuned, "--all")[1] == ranking(tuned, "--all")[1]
    assert json.loads(kept_file(tuned).read_bytes().partition(b"\n")[2])


def test_an_experiment_that_cannot_be_judged_is_judged_again(tuned: ScratchRepo) -> None:
    """Errors are not kept: a metrics file fetched later, say, is read when it is there."""
    test_a_forged_experiment_is_an_error_row_not_a_pass(tuned)
    body = json.loads(kept_file(tuned).read_bytes().partition(b"\n")[2])
    shas = {key.split()[0] for key in body}
    names = {exp.sha: exp.name for exp in list_experiments(tuned.root)}
    assert sorted(names[sha] for sha in shas) == ["best", "good", "weak"]
