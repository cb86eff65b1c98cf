"""`mlgate history`: semver order, metrics from lineage or files, stages, damaged tags."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate.lineage import BEGIN, END
from tests.mlgate.registry_repo import ARTIFACT, Published, metrics_with, published
from tests.mlgate.repo_factory import DVC_YAML

__all__ = ["published"]

MLGATE = str(Path(sys.executable).with_name("mlgate"))


def history(p: Published, *args: str) -> list[dict]:
    result = p.mlgate("history", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def annotated(p: Published, name: str, message: str, date: str | None = None) -> None:
    env = None
    if date:
        env = {**os.environ, "GIT_COMMITTER_DATE": date}
    subprocess.run(
        ["git", "tag", "-a", "--cleanup=verbatim", "-m", message, name],
        cwd=p.root,
        check=True,
        env=env,
    )


def commit_metrics(p: Published, **changes: float) -> None:
    p.repo.set_metrics(metrics_with(**changes))
    p.repo.repro()
    p.repo.commit(f"metrics {changes}")


def test_no_releases(published: Published) -> None:
    assert history(published) == []
    result = published.mlgate("history")
    assert result.exit_code == 0 and "no releases yet" in result.stdout


def test_newest_first_by_semver_even_in_the_same_second(published: Published) -> None:
    p = published
    commit_metrics(p, accuracy=0.88)
    annotated(p, f"{ARTIFACT}@v1.10.0", "ten", "2026-01-01T00:00:00+00:00")
    commit_metrics(p, accuracy=0.89)
    annotated(p, f"{ARTIFACT}@v1.9.0", "nine", "2026-01-01T00:00:00+00:00")
    annotated(p, f"{ARTIFACT}@v1.10.0-rc.1", "rc", "2026-01-01T00:00:00+00:00")
    p.repo.git("tag", f"{ARTIFACT}@v9.0.0")  # lightweight: not a GTO release
    entries = history(p)
    assert [e["version"] for e in entries] == ["v1.10.0", "v1.10.0-rc.1", "v1.9.0"]
    # Tags made by other tools have no lineage: metrics come from the files at the commit.
    assert entries[0]["metrics"]["accuracy"] == 0.88
    assert entries[2]["metrics"]["accuracy"] == 0.89
    assert entries[0]["lineage"] == "missing"
    # "artifact": history lists every artifact when none is named, so each entry says whose
    assert set(entries[0]) == {
        *("tag", "artifact", "version", "sha", "date", "metrics", "stages", "lineage")
    }
    assert entries[0]["artifact"] == ARTIFACT
    assert history(p, "--limit", "1")[0]["version"] == "v1.10.0"


def test_fallback_reads_metrics_files_declared_through_templates(published: Published) -> None:
    p = published
    templated = copy.deepcopy(DVC_YAML)
    templated["vars"] = [{"paths": {"metrics": "metrics/metrics.json"}}]
    templated["stages"]["train"]["metrics"] = [{"${paths.metrics}": {"cache": False}}]
    p.repo.write("dvc.yaml", templated)
    commit_metrics(p, accuracy=0.81)
    annotated(p, f"{ARTIFACT}@v2.0.0", "released by another tool, no lineage")
    (entry,) = history(p)
    assert entry["lineage"] == "missing"
    assert entry["metrics"]["accuracy"] == 0.81


def test_releases_of_other_tools_read_what_each_commit_declares(
    published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    """History resolves dvc.yaml once for the releases that share it, and apart where a
    commit differs in what DVC reads: the vars file its templated path comes from, a nested
    dvc.yaml, a declared directory's files. Each release lists what its own commit declares,
    as resolving every commit on its own does."""
    from mlgate import gitio, metrics
    from mlgate.metrics import metrics_files, read_dvc_yaml, read_metrics

    p = published
    templated = copy.deepcopy(DVC_YAML)
    templated["vars"] = ["paths.yaml"]
    templated["stages"]["train"]["metrics"] = [{"${metrics}": {"cache": False}}]
    p.repo.write("dvc.yaml", templated)
    p.repo.write("paths.yaml", {"metrics": "metrics/metrics.json"})
    p.repo.write("other/metrics.json", {"accuracy": 0.5, "extra": 1})
    versions = iter(f"v3.0.{n}" for n in range(10))

    def tag(**changes: float) -> None:
        p.repo.set_committed_metrics(metrics_with(**changes))
        p.repo.commit(f"metrics {changes}")
        annotated(p, f"{ARTIFACT}@{next(versions)}", "released by another tool, no lineage")

    tag(accuracy=0.81)
    tag(accuracy=0.82)  # shares the first one's resolution
    p.repo.write("paths.yaml", {"metrics": "other/metrics.json"})
    tag(accuracy=0.83)  # the vars file names another metrics file
    p.repo.write("paths.yaml", {"metrics": "metrics/metrics.json"})
    p.repo.write("sub/dvc.yaml", {"metrics": ["scores"]})
    p.repo.write("sub/scores/a.json", {"nested": {"score": 2}})
    tag(accuracy=0.84)  # a nested dvc.yaml declares a directory of metrics files
    p.repo.write("sub/scores/b.json", {"more": 3})
    tag(accuracy=0.85)  # another file in that directory
    resolved: list[str | None] = []

    def counted(snap: gitio.Snapshot, dvc_yaml: dict) -> list[str]:
        resolved.append(snap.sha)
        return metrics_files(snap, dvc_yaml)

    with monkeypatch.context() as patched:
        patched.setattr(metrics, "metrics_files", counted)
        entries = history(p)
    assert len(resolved) == 4  # v3.0.0 and v3.0.1 shared one
    prefix = gitio.git_prefix(p.root)
    for entry in entries:
        snap = gitio.Snapshot(p.root, entry["sha"], entry["sha"][:8], prefix)
        alone = read_metrics(snap, metrics_files(snap, read_dvc_yaml(snap))).numbers()
        assert entry["metrics"] == dict(sorted(alone.items())), entry["version"]
    by_version = {entry["version"]: entry["metrics"] for entry in entries}
    assert by_version["v3.0.1"]["accuracy"] == 0.82
    assert by_version["v3.0.2"] == {"accuracy": 0.5, "extra": 1}
    assert by_version["v3.0.3"]["nested.score"] == 2 and "more" not in by_version["v3.0.3"]
    assert by_version["v3.0.4"]["more"] == 3 and by_version["v3.0.4"]["accuracy"] == 0.85


def test_metrics_come_from_the_lineage_block(published: Published) -> None:
    p = published
    assert p.mlgate("release").exit_code == 0
    (entry,) = history(p)
    assert entry["lineage"] == "ok"
    # every metric under its dotted key, as `dvc metrics show` prints it, in the gates' order
    assert list(entry["metrics"].items()) == [
        ("roc_auc", 0.93),
        ("accuracy", 0.87),
        ("fairness.sex.equalized_odds_difference", 0.08),
        ("latency.p95_ms", 5.0),
    ]
    assert entry["sha"] == p.repo.git("rev-parse", "HEAD")
    assert entry["date"].startswith("20")


def test_corrupted_lineage_is_listed_and_marked(published: Published) -> None:
    p = published
    annotated(
        p, f"{ARTIFACT}@v1.0.0", f'Release\n\n{BEGIN}\n{{"metrics": {{"accuracy": 0.\n{END}\n'
    )
    (entry,) = history(p)
    assert entry["lineage"] == "corrupt"
    assert "not valid JSON" in entry["problem"]
    assert entry["metrics"]["accuracy"] == 0.87  # fell back to the committed file
    text = p.mlgate("history").stdout
    assert "lineage corrupt" in text and "v1.0.0" in text


def test_a_lineage_metric_beyond_every_float_is_left_out(published: Published) -> None:
    p = published
    body = '{"schema": 1, "metrics": {"accuracy": 0.5, "roc_auc": 1' + "0" * 400 + "}}"
    annotated(p, f"{ARTIFACT}@v1.0.0", f"Release\n\n{BEGIN}\n{body}\n{END}\n")
    (entry,) = history(p)
    assert entry["lineage"] == "ok" and entry["metrics"] == {"accuracy": 0.5}
    assert p.mlgate("history").exit_code == 0


def test_a_lineage_block_copied_onto_another_tag_is_not_believed(published: Published) -> None:
    p = published
    assert p.mlgate("release").exit_code == 0  # v0.0.1, its block records roc_auc 0.93
    message = subprocess.run(
        ["git", "for-each-ref", "--format=%(contents)", f"refs/tags/{ARTIFACT}@v0.0.1"],
        cwd=p.root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    p.repo.set_committed_metrics(metrics_with(roc_auc=0.5))
    p.repo.commit("a much worse model")
    annotated(p, f"{ARTIFACT}@v7.0.0", message)  # intact block, copied from v0.0.1
    forged, genuine = history(p)
    assert forged["version"] == "v7.0.0" and forged["lineage"] == "corrupt"
    assert "records commit" in forged["problem"] and "copied from another tag" in forged["problem"]
    assert forged["metrics"]["roc_auc"] == 0.5  # what its commit's files say
    assert genuine["lineage"] == "ok" and genuine["metrics"]["roc_auc"] == 0.93


def test_an_old_release_at_a_broken_dvc_yaml_does_not_break_the_listing(
    published: Published,
) -> None:
    p = published
    assert p.mlgate("release").exit_code == 0
    dvc_yaml = (p.root / "dvc.yaml").read_text()
    (p.root / "dvc.yaml").write_text(dvc_yaml + "  broken: [\n")
    p.repo.commit("broken dvc.yaml")
    annotated(p, f"{ARTIFACT}@v0.5.0", "hand-made release without lineage")
    (p.root / "dvc.yaml").write_text(dvc_yaml)
    p.repo.commit("fixed")
    hand_made, genuine = history(p)
    assert hand_made["version"] == "v0.5.0" and hand_made["lineage"] == "missing"
    assert hand_made["metrics"] == {} and genuine["lineage"] == "ok"


def test_stages_show_current_holders(published: Published) -> None:
    p = published
    assert p.mlgate("release").exit_code == 0
    p.repo.write("notes.txt", "x")
    p.repo.commit("second")
    p.push()
    assert p.mlgate("release").exit_code == 0
    for version, stage in [("v0.0.1", "dev"), ("v0.0.1", "staging"), ("v0.0.2", "dev")]:
        assert p.mlgate("promote", version, stage).exit_code == 0
    stages = {e["version"]: e["stages"] for e in history(p)}
    assert stages == {"v0.0.2": ["dev"], "v0.0.1": ["staging"]}


def test_text_table_has_metric_columns(published: Published) -> None:
    p = published
    assert p.mlgate("release").exit_code == 0
    out = p.mlgate("history").stdout.splitlines()
    assert out[0].split() == ["version", "date", "commit", "stages", "accuracy", "roc_auc", "note"]
    assert out[2].startswith("v0.0.1") and "0.87" in out[2]
    chosen = p.mlgate("history", "--metric", "roc_auc").stdout.splitlines()[0].split()
    assert chosen == ["version", "date", "commit", "stages", "roc_auc", "note"]


def test_a_non_utf8_metric_column_is_refused_not_a_traceback(published: Published) -> None:
    p = published
    assert p.mlgate("release").exit_code == 0
    done = subprocess.run(
        [MLGATE.encode(), b"history", b"--metric", b"\xff"],
        cwd=p.root,
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"},  # as in an en_US.UTF-8 locale
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.decode() == (
        "mlgate: error: --metric '\\udcff' is not UTF-8 text (it contains the byte 0xff); "
        "write it in UTF-8\n"
    )


def test_unknown_artifact_and_bad_limit(published: Published) -> None:
    """An artifact neither declared nor released is a typo, not "no releases yet"."""
    result = published.mlgate("history", "--artifact", "other-model")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f"mlgate: error: dvc.yaml: no artifact 'other-model' (declared: {ARTIFACT})\n"
    )
    result = published.mlgate("history", "--limit", "0")
    assert result.exit_code == 2 and "0" in result.stderr


@pytest.mark.parametrize("name", ["sub=demo-model@v1.0.0", "demo-model@1.0.0"])
def test_tags_outside_the_grammar_are_ignored(published: Published, name: str) -> None:
    annotated(published, name, "x")
    # not a release of demo-model (sub=demo-model is another artifact's, which the listing
    # of every artifact shows, as gto show does)
    assert history(published, "--artifact", ARTIFACT) == []
