"""scripts/dvc_remote.py and scripts/monitor_batch.py: the small steps of the workflows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from scripts import dvc_remote, monitor_batch
from scripts.dvc_remote import RemoteError
from scripts.monitor_batch import BatchError

ROOT = Path(__file__).resolve().parents[2]

# --- dvc_remote ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "requirement"),
    [
        ("s3://bucket/cache", "dvc[s3]"),
        ("gs://bucket/cache", "dvc[gs]"),
        ("azure://container/cache", "dvc[azure]"),
        ("ssh://user@host/srv/dvc", "dvc[ssh]"),
        ("https://example.test/dvc", "dvc[http]"),
        ("/srv/dvc-cache", None),
        ("../dvc-cache", None),
        ("file:///srv/dvc-cache", None),
    ],
)
def test_the_plugin_follows_the_scheme(url: str, requirement: str | None) -> None:
    assert dvc_remote.plugin_requirement(url) == requirement


@pytest.mark.parametrize("url", ["ftp://host/x", "s3://bucket\n--force", "javascript:alert(1)"])
def test_unusable_urls_are_refused(url: str) -> None:
    with pytest.raises(RemoteError):
        dvc_remote.plugin_requirement(url)


def test_commands_configure_a_local_remote_then_act() -> None:
    steps = dvc_remote.commands("push", "s3://bucket/cache", python="py")
    assert steps == [
        ["py", "-m", "pip", "install", "--quiet", "dvc[s3]"],
        [
            "py",
            "-m",
            "dvc",
            "remote",
            "add",
            "--local",
            "--force",
            "--default",
            "ci",
            "s3://bucket/cache",
        ],
        ["py", "-m", "dvc", "push", "--remote", "ci"],
    ]
    with pytest.raises(RemoteError):
        dvc_remote.commands("gc", "/tmp/x")


def test_without_a_remote_nothing_runs_and_nothing_fails(monkeypatch, capsys) -> None:
    monkeypatch.setattr(dvc_remote.subprocess, "run", pytest.fail)
    assert dvc_remote.run("pull", {}) == 0
    assert dvc_remote.run("push", {"DVC_REMOTE_URL": "  "}) == 0
    assert "reproduced from scratch" in capsys.readouterr().out


def test_a_failed_pull_is_tolerated_a_failed_push_is_not(monkeypatch) -> None:
    class Done:
        returncode = 1

    monkeypatch.setattr(dvc_remote.subprocess, "run", lambda *a, **k: Done())
    env = {"DVC_REMOTE_URL": "/srv/nowhere"}
    assert dvc_remote.run("pull", env) == 1  # configuring the remote failed: an error
    calls = []

    def last_fails(step, **kwargs):
        calls.append(step)
        return Done() if step[3] in ("pull", "push") else type("Ok", (), {"returncode": 0})()

    monkeypatch.setattr(dvc_remote.subprocess, "run", last_fails)
    assert dvc_remote.run("pull", env) == 0
    assert dvc_remote.run("push", env) == 1
    assert dvc_remote.main(["sideways"]) == 2


def test_a_batch_pull_names_only_that_batchs_files(monkeypatch, tmp_path: Path, capsys) -> None:
    """The monitor job pulls the batch whose labels arrived, not every batch ever scored;
    a folder tracked whole (before per-batch files) is pulled whole, as scoring re-adds it."""
    monkeypatch.chdir(tmp_path)
    for kind in ("predictions", "inputs", "quarantine"):
        for batch in ("2026-10", "2026-11"):
            target = tmp_path / "monitoring" / kind / f"{batch}.parquet.dvc"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("outs: []\n")
    assert dvc_remote.batch_targets("2026-11") == [
        "monitoring/predictions/2026-11.parquet.dvc",
        "monitoring/inputs/2026-11.parquet.dvc",
        "monitoring/quarantine/2026-11.parquet.dvc",
    ]
    assert dvc_remote.batch_targets("") == [] and dvc_remote.batch_targets("2026-12") == []
    (tmp_path / "monitoring" / "inputs.dvc").write_text("outs: []\n")  # tracked whole
    assert dvc_remote.batch_targets("2026-11")[1] == "monitoring/inputs.dvc"
    steps = dvc_remote.commands("pull", "/srv/dvc", python="py", targets=["a.dvc", "b.dvc"])
    assert steps[-1] == ["py", "-m", "dvc", "pull", "--remote", "ci", "a.dvc", "b.dvc"]
    configure_only = dvc_remote.commands("pull", "/srv/dvc", python="py", targets=[])
    assert [step[3] for step in configure_only] == ["remote"]
    # an id that is a path is refused before anything runs
    monkeypatch.setattr(dvc_remote.subprocess, "run", pytest.fail)
    monkeypatch.setenv("DVC_REMOTE_URL", "/srv/dvc")
    assert dvc_remote.main(["pull-batch", "../../etc"]) == 2
    assert "cannot name files" in capsys.readouterr().err
    assert dvc_remote.main(["pull-batch", "a", "b"]) == 2


def test_push_and_pull_through_a_local_remote(tmp_path: Path) -> None:
    """A real round trip with DVC: push to a local remote, empty the cache, pull back."""
    dvc = str(Path(sys.executable).with_name("dvc"))
    src = tmp_path / "src"
    src.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=src, check=True)
    subprocess.run([dvc, "init", "-q"], cwd=src, check=True)
    (src / "data.txt").write_text("payload\n")
    subprocess.run([dvc, "add", "-q", "data.txt"], cwd=src, check=True)
    env = {"DVC_REMOTE_URL": str(tmp_path / "storage")}
    assert dvc_remote.run("push", env, cwd=src) == 0
    (src / "data.txt").unlink()
    empty_cache = ["cache", "dir", "--local", str(tmp_path / "empty-cache")]
    subprocess.run([dvc, *empty_cache], cwd=src, check=True)
    assert dvc_remote.run("pull", env, cwd=src) == 0
    assert (src / "data.txt").read_text() == "payload\n"
    assert "ci" not in (src / ".dvc" / "config").read_text()  # only config.local changed


# --- monitor_batch -------------------------------------------------------------------------

PARAMS = """\
# top comment
ingest:
  train_source: data/raw/adult.data.gz
  current_source: data/raw/adult.test.gz   # the batch watched for drift
  header: false
drift:
  current_source: untouched
"""


def test_only_the_ingest_line_changes() -> None:
    updated = monitor_batch.set_current_source(PARAMS, "data/current/2026-11-23.csv.gz")
    assert updated.splitlines()[3] == (
        '  current_source: "data/current/2026-11-23.csv.gz"   # the batch watched for drift'
    )
    assert [
        a for a, b in zip(PARAMS.splitlines(), updated.splitlines(), strict=True) if a != b
    ] == [PARAMS.splitlines()[3]]
    assert yaml.safe_load(updated)["drift"]["current_source"] == "untouched"


@pytest.mark.parametrize("source", ["s3://b/x: y #z", 'it\'s "quoted"', "a\\b", "{x: [1]}"])
def test_any_source_is_quoted_into_valid_yaml(source: str) -> None:
    updated = monitor_batch.set_current_source(PARAMS, source)
    assert yaml.safe_load(updated)["ingest"]["current_source"] == source


@pytest.mark.parametrize(
    ("params", "source", "message"),
    [
        (PARAMS, "a\nb", "one line"),
        (PARAMS, "", "one line"),
        ("drift:\n  current_source: x\n", "new", "no top-level 'ingest:'"),
        ("ingest:\n  train_source: x\n", "new", "no 'ingest.current_source'"),
    ],
)
def test_refusals_name_the_problem(params: str, source: str, message: str) -> None:
    with pytest.raises(BatchError, match=message):
        monitor_batch.set_current_source(params, source)


def test_the_newest_batch_is_chosen_by_name(tmp_path: Path) -> None:
    assert monitor_batch.newest_batch(tmp_path / "missing") is None
    for name in ["2026-11-01.csv.gz", "2026-11-23.parquet", "notes.txt", "2026-10-30.csv"]:
        (tmp_path / name).write_text("x")
    assert monitor_batch.newest_batch(tmp_path) == (tmp_path / "2026-11-23.parquet").as_posix()
    assert monitor_batch.choose_source({"MONITOR_SOURCE": " s3://b/new "}, tmp_path) == "s3://b/new"
    assert monitor_batch.choose_source({"MONITOR_SOURCE": ""}, tmp_path).endswith(".parquet")


def test_main_rewrites_the_file_or_leaves_it(tmp_path: Path, monkeypatch, capsys) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(PARAMS)
    monkeypatch.chdir(tmp_path)
    assert monitor_batch.main({}, params) == 0
    assert params.read_text() == PARAMS
    assert monitor_batch.main({"MONITOR_SOURCE": "new.csv"}, params) == 0
    assert yaml.safe_load(params.read_text())["ingest"]["current_source"] == "new.csv"
    params.write_text("nothing: here\n")
    assert monitor_batch.main({"MONITOR_SOURCE": "new.csv"}, params) == 2


def test_the_real_params_yaml_has_the_key_the_monitor_sets() -> None:
    text = (ROOT / "params.yaml").read_text()
    updated = monitor_batch.set_current_source(text, "data/current/x.csv")
    assert yaml.safe_load(updated)["ingest"]["current_source"] == "data/current/x.csv"


@given(
    st.text(min_size=1, max_size=80).filter(lambda t: not set(t) & set("\n\r\0\x85\u2028\u2029"))
)
def test_any_one_line_source_round_trips_through_yaml(source: str) -> None:
    updated = monitor_batch.set_current_source(PARAMS, source)
    assert yaml.safe_load(updated)["ingest"]["current_source"] == source
    assert updated.count("\n") == PARAMS.count("\n")
