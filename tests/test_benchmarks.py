"""The benchmark scripts keep working as the code under them moves (each once broke silently:
a removed import in --prepare, a made-up commit that made every lineage block corrupt)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import alternate, bench_check_report, bench_history_gto, bench_registry

ROOT = Path(__file__).resolve().parents[1]


def test_check_report_prepare_names_the_artifact() -> None:
    done = subprocess.run(
        [sys.executable, "-c", bench_check_report._ARTIFACT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


@pytest.mark.slow
def test_registry_bench_builds_releases_whose_lineage_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from mlgate.cli import cli

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    repo = tmp_path / "registry"
    bench_registry.build(repo, 3)
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(cli, ["history", "--format", "json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert len(entries) == 3
    assert {entry["lineage"] for entry in entries} == {"ok"}


@pytest.mark.slow
def test_cached_metrics_bench_keeps_its_metrics_in_the_dvc_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("dvclive")
    from benchmarks import bench_cached_metrics

    monkeypatch.setenv("HOME", str(tmp_path))
    repo = tmp_path / "dvclive"
    bench_cached_metrics.prepare(repo)  # refuses a layout with eval/ in git
    command = bench_cached_metrics.COMMANDS["mlgate check --rev HEAD --baseline HEAD~1"]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    rules = {rule["metric"]: rule for rule in json.loads(done.stdout)["rules"]}
    assert rules["test.roc_auc"]["value"] == 0.8 and rules["test.roc_auc"]["baseline"] == 0.9


def _tag_object(repo: Path, name: str) -> bytes:
    return subprocess.run(
        ["git", "cat-file", "tag", name], cwd=repo, capture_output=True, check=True
    ).stdout


def test_gto_history_bench_writes_the_tags_gto_writes_and_mlgate_lists_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The benchmark's fast-import tags are byte for byte what ``gto.api.register`` writes
    (but for the commit, name and time), GTO reads them all, and ``mlgate history`` lists
    the same versions as ``gto.api.show`` with the nested metrics."""
    gto_api = pytest.importorskip("gto.api")
    from click.testing import CliRunner

    from mlgate.cli import cli

    for variable in ("NAME", "EMAIL"):  # GTO tags as the repository's configured identity
        monkeypatch.delenv(f"GIT_COMMITTER_{variable}")
        monkeypatch.delenv(f"GIT_AUTHOR_{variable}")
    repo = tmp_path / "gto"
    bench_history_gto.build(repo, 3, check=False)
    (repo / "model.pkl").write_text("model 4\n")
    subprocess.run(["git", "commit", "-qam", "model 4"], cwd=repo, check=True)
    gto_api.register(str(repo), bench_history_gto.ARTIFACT, "HEAD", version="v1.0.4")

    def normalised(name: str) -> list[bytes]:
        lines = _tag_object(repo, name).split(b"\n")
        assert lines[0].startswith(b"object ") and lines[2].startswith(b"tag ")
        assert lines[3].startswith(b"tagger bench <bench@mlgate.invalid> ")
        return [lines[1], lines[3].rsplit(b" ", 2)[-1], *lines[4:]]

    assert normalised("model@v1.0.3")[:2] == normalised("model@v1.0.4")[:2]
    assert normalised("model@v1.0.3")[2:] == [b"", b"Registering artifact model version v1.0.3"]
    assert normalised("model@v1.0.4")[2:] == [b"", b"Registering artifact model version v1.0.4"]

    gto_versions = gto_api.show(str(repo), name=bench_history_gto.ARTIFACT)
    assert gto_api.show(str(repo))[bench_history_gto.ARTIFACT]["version"] == "v1.0.4"
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(cli, ["history", "--format", "json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert [e["version"] for e in entries] == ["v1.0.4", "v1.0.3", "v1.0.2", "v1.0.1"]
    assert {v["version"]: v["commit_hexsha"] for v in gto_versions} == {
        e["version"]: e["sha"] for e in entries
    }
    assert [list(e["metrics"]) for e in entries] == [list(bench_history_gto.NESTED_KEYS)] * 4
    assert (
        entries[-1]["metrics"]["test.roc_auc"]
        == bench_history_gto.metrics_for(1)["test"]["roc_auc"]
    )


def test_alternate_times_each_command_in_turn_and_stops_on_a_failure(tmp_path: Path) -> None:
    log = tmp_path / "log"
    times = alternate.measure(
        {"a": f"echo a >> {log}", "b": f"echo b >> {log}"}, tmp_path, runs=2, warmup=1
    )
    assert log.read_text().split() == ["a", "b"] * 3  # the warm-up round is not counted
    assert [len(measured) for measured in times.values()] == [2, 2]
    assert alternate.table(times).splitlines()[2].startswith("| a | ")
    with pytest.raises(SystemExit, match="failed"):
        alternate.measure({"bad": "exit 3"}, tmp_path, runs=1)


TINY_SCORE = ("--rows", "300", "--runs", "1", "--rss-rows", "300", "--rss-runs", "1")


@pytest.mark.slow
def test_score_bench_runs_tiny() -> None:
    from benchmarks import bench_score

    if not (bench_score.SOURCE.is_file() and bench_score.MODEL.is_file()):
        pytest.skip("needs the pipeline's outputs (dvc repro or dvc pull)")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_score", *TINY_SCORE],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "(a) 300 rows" in done.stdout and "x bare" in done.stdout
    assert "(b) 300 rows: peak RSS median" in done.stdout


def test_sweep_bench_grid_has_twelve_distinct_points(tmp_path: Path) -> None:
    from benchmarks import bench_sweep
    from mlgate import sweep

    spec = tmp_path / "grid.yaml"
    spec.write_text(bench_sweep.GRID.format(name="g", jobs=2))
    trials = sweep.propose(sweep.load(spec))
    assert len({tuple(trial.overrides()) for trial in trials}) == 12
    spec.write_text(bench_sweep.TPE.format(name="t", trials=20))
    assert sweep.load(spec).sampler == "tpe"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def test_sweep_bench_experiments_agree_with_their_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each made-up experiment's dvc.lock records its own learning_rate and the md5 and size
    of its own metrics file, as DVC would have written them; its parent is HEAD."""
    import hashlib

    from benchmarks import bench_sweep

    for key, value in bench_sweep.IDENTITY.items():
        monkeypatch.setenv(key, value)
    repo = tmp_path / "repo"
    (repo / "metrics").mkdir(parents=True)
    _git(repo, "init", "-q")

    def commit(rate: float, auc: float) -> str:
        metrics = json.dumps({"accuracy": 0.87, "roc_auc": auc}, indent=2) + "\n"
        entry = f"md5: {hashlib.md5(metrics.encode()).hexdigest()}\n      size: {len(metrics)}"
        (repo / "params.yaml").write_text(f"train:\n  learning_rate: {rate}\n")
        (repo / "metrics" / "metrics.json").write_text(metrics)
        stage = f"  learning_rate: {rate}\n  outs:\n    - path: m\n      {entry}\n"
        (repo / "dvc.lock").write_text(f"train:\n{stage}card:\n{stage}")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-qm", "c")
        return _git(repo, "rev-parse", "HEAD").strip()

    head = commit(0.1, 0.92)
    real = commit(0.05, 0.93)
    _git(repo, "update-ref", f"refs/exps/{head[:2]}/{head[2:]}/real", real)
    _git(repo, "reset", "-q", "--hard", head)
    bench_sweep.build_experiments(repo, 3)
    refs = bench_sweep.experiment_refs(repo)
    assert sorted(refs) == ["bench-000", "bench-001", "bench-002", "real"]
    rates = set()
    for name in ("bench-000", "bench-001", "bench-002"):
        ref = refs[name]
        assert _git(repo, "rev-parse", f"{ref}^").strip() == head
        metrics = _git(repo, "show", f"{ref}:metrics/metrics.json")
        lock = _git(repo, "show", f"{ref}:dvc.lock")
        assert lock.count(hashlib.md5(metrics.encode()).hexdigest()) == 2
        rate = _git(repo, "show", f"{ref}:params.yaml").split("learning_rate:")[1].strip()
        assert lock.count(f"learning_rate: {rate}") == 2
        rates.add(rate)
    assert len(rates) == 3
