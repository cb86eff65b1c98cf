"""A commit whose dvc.lock does not match its params or code (issue 21): found from git
objects as ``dvc status`` would find it, and said first by ``check --rev`` and ``report``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlgate import api, dvcadapter, gitio
from mlgate.cli import cli
from mlgate.freshness import COMMAND, NOT_LOCKED, StaleStage, stale_stages_at
from mlgate.metrics import read_dvc_yaml
from mlgate.render import markdown, text
from tests.mlgate.registry_repo import chdir
from tests.mlgate.repo_factory import DEFAULT_GATES, DVC_YAML, ScratchRepo, metrics_with


def stale(root: Path, rev: str = "HEAD") -> list[StaleStage]:
    snap = gitio.snapshot(root, rev, gitio.git_prefix(root))
    return stale_stages_at(snap, read_dvc_yaml(snap))


def dvc_status(root: Path) -> set[str]:
    """The stages ``dvc status`` calls changed (it names them from the current directory)."""
    return {name.rsplit(":", 1)[-1] for name in dvcadapter.stale_stages(root)}


def with_stage(name: str, stage: dict[str, object]) -> dict[str, object]:
    pipeline = json.loads(json.dumps(DVC_YAML))
    pipeline["stages"][name] = stage
    return pipeline


def test_a_reproduced_commit_is_fresh(scratch_repo: ScratchRepo) -> None:
    assert stale(scratch_repo.root) == []
    assert api.check(scratch_repo.root, "HEAD", baseline="none").stale == ()


def test_params_code_and_command_changed_without_repro(scratch_repo: ScratchRepo) -> None:
    repo = scratch_repo
    repo.write_params(gates=None, seed=2)
    repo.commit("seed 2, not reproduced")
    assert stale(repo.root) == [StaleStage("train", ("train.seed",))]
    repo.set_metrics(metrics_with(roc_auc=0.5))
    pipeline = json.loads(json.dumps(DVC_YAML))
    pipeline["stages"]["train"]["cmd"] += " && true"
    repo.write("dvc.yaml", pipeline)
    repo.commit("input and command too")
    assert stale(repo.root) == [StaleStage("train", (COMMAND, "inputs/metrics.json", "train.seed"))]
    assert dvc_status(repo.root) == {"train"}  # dvc status of the working tree agrees
    assert stale(repo.root, "HEAD~2") == []  # the revision asked about, not the working tree


def test_a_stage_never_run_is_stale(scratch_repo: ScratchRepo) -> None:
    scratch_repo.write("dvc.yaml", with_stage("extra", {"cmd": "true", "deps": ["params.yaml"]}))
    scratch_repo.commit("a stage that has not run")
    assert stale(scratch_repo.root) == [StaleStage("extra", (NOT_LOCKED,))]


def test_directory_and_cached_dependencies_hash_as_dvc_does(scratch_repo: ScratchRepo) -> None:
    """A directory in git (its .dir manifest's md5) and another stage's DVC-cached output
    (not in git: what its producer locked) agree with DVC's own lock when reproduced."""
    repo = scratch_repo
    repo.write("conf/a.txt", "a\n")
    repo.write("conf/sub/b.txt", "b\r\n")
    stage = {"cmd": "cp models/model.bin packed.bin", "deps": ["conf", "models/model.bin"]}
    repo.write("dvc.yaml", with_stage("pack", {**stage, "outs": ["packed.bin"]}))
    repo.repro()
    repo.commit("pack stage, reproduced")
    assert stale(repo.root) == [] and dvc_status(repo.root) == set()
    repo.write("conf/sub/b.txt", "c\n")
    repo.set_metrics(metrics_with(roc_auc=0.91))
    repo.dvc("repro", "-q", "-s", "train")  # the producer reran, its consumer did not
    repo.commit("conf and model changed, pack not reproduced")
    assert stale(repo.root) == [StaleStage("pack", ("conf", "models/model.bin"))]
    assert dvc_status(repo.root) == {"pack"}  # dvc status of the working tree agrees


def test_a_dvc_tracked_file_inside_a_git_folder_counts_as_dvc_hashes_it(
    scratch_repo: ScratchRepo,
) -> None:
    """data/labelled holds a README in git and batches DVC tracks one by one (git has their
    .dvc files only): the folder's hash is DVC's, over the tracked files' contents too."""
    repo = scratch_repo
    repo.write("labelled/README.md", "labelled batches\n")
    stage = {"cmd": "ls labelled > listing.txt", "deps": ["labelled"], "outs": ["listing.txt"]}
    repo.write("dvc.yaml", with_stage("list", stage))
    repo.repro()
    repo.commit("a folder dependency")
    assert stale(repo.root) == [] and dvc_status(repo.root) == set()
    repo.write("labelled/2027-01.parquet", "rows\n")
    repo.dvc("add", "-q", "labelled/2027-01.parquet")
    repo.repro()
    repo.commit("a batch tracked by DVC inside it, reproduced")
    assert stale(repo.root) == [] and dvc_status(repo.root) == set()
    repo.write("labelled/2027-01.parquet", "other rows\n")
    repo.dvc("add", "-q", "labelled/2027-01.parquet")
    repo.commit("the batch changed, not reproduced")
    assert stale(repo.root) == [StaleStage("list", ("labelled",))]
    assert dvc_status(repo.root) == {"list"}


def test_whole_params_file_and_a_vars_file(scratch_repo: ScratchRepo) -> None:
    repo = scratch_repo
    repo.write("extra.yaml", {"size": 3, "name": "x"})
    stage = {"cmd": "echo ${size}", "params": [{"extra.yaml": None}], "deps": ["params.yaml"]}
    pipeline = with_stage("whole", stage)
    pipeline["vars"] = ["extra.yaml"]
    repo.write("dvc.yaml", pipeline)
    repo.repro()
    repo.commit("whole-file params")
    assert stale(repo.root) == []
    repo.write("extra.yaml", {"size": 3, "name": "y", "new": 1})
    repo.commit("a key changed and one added")
    assert stale(repo.root) == [StaleStage("whole", ("extra.yaml:name", "extra.yaml:new"))]


@pytest.fixture
def stale_head(scratch_repo: ScratchRepo) -> ScratchRepo:
    scratch_repo.git("checkout", "-q", "-b", "feature")
    scratch_repo.write_params(gates=DEFAULT_GATES, seed=9)
    scratch_repo.commit("seed 9, not reproduced")
    return scratch_repo


def test_check_rev_says_so_first(stale_head: ScratchRepo) -> None:
    result = api.check(stale_head.root, "HEAD", baseline="none")
    assert result.stale == (StaleStage("train", ("train.seed",)),)
    first = text.check(result).splitlines()[0]
    assert first.startswith("STALE: metrics are stale: run `dvc repro`; dvc.lock does not match")
    assert first.endswith(": train (train.seed)")
    assert all(len(line) <= 60 for line in text.check(result, columns=60).splitlines()[:3])
    md = markdown.check(result)
    assert md.startswith("> ⚠️ **Metrics are stale: run `dvc repro`.** `dvc.lock` does not match")
    assert "`train` (`train.seed`)" in md.splitlines()[0]
    with chdir(stale_head.root):
        out = CliRunner().invoke(cli, ["check", "--rev", "HEAD", "--baseline", "none"])
    assert out.exit_code == 0 and out.stdout.startswith("STALE: metrics are stale")


def test_report_says_so_at_the_top(stale_head: ScratchRepo) -> None:
    report = markdown.report(api.report(stale_head.root, "main"))
    lines = [line for line in report.splitlines() if line]
    assert lines[0] == markdown.MARKER and lines[1] == "## mlgate report"
    assert lines[2].startswith("> ⚠️ **Metrics are stale: run `dvc repro`.** `dvc.lock` does not")
    assert "the head" in lines[2] and "`train` (`train.seed`)" in lines[2]


def test_a_fresh_report_says_nothing_of_it(scratch_repo: ScratchRepo) -> None:
    scratch_repo.git("checkout", "-q", "-b", "feature")
    assert "stale" not in markdown.report(api.report(scratch_repo.root, "main"))


def test_long_lists_are_cut() -> None:
    from mlgate.render import stale_stages

    many = [StaleStage(f"s{i}", tuple(f"p{j}" for j in range(7))) for i in range(7)]
    said = stale_stages(many)
    assert said.count("2 more)") == 5 and said.endswith("; 2 more stage(s)")
