"""make score end to end: release -> promote prod -> score, with the DVC remote on S3.

The S3 endpoint is moto's standalone server on 127.0.0.1, started and stopped here, reached
through dvc-s3. A tiny DVC project "trains" by copying a small fitted model (stages' own
featurize + train on tiny data), is released and promoted with mlgate, pushes its model to
S3 and forgets its local cache: scoring must fetch the model from S3, and push the
prediction log back.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("moto.server")
pytest.importorskip("dvc_s3")
boto3 = pytest.importorskip("boto3")

from tests.mlgate.registry_repo import chdir  # noqa: E402
from tests.mlgate.repo_factory import DEFAULT_GATES, DEFAULT_METRICS, run  # noqa: E402
from tests.stages.conftest import SCHEMA_PARAMS, VALIDATE_PARAMS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BUCKET = "mlgate-test"
ARTIFACT = "income-model"
DVC_BIN = str(Path(sys.executable).with_name("dvc"))
PARAMS: dict[str, Any] = {
    "train": {"seed": 1},
    "ingest": {
        "train_source": "unused.csv",
        "test_source": "unused.csv",
        "current_source": "unused.csv",
        "header": True,
        "na_values": ["?"],
        "encoding": "utf-8",
        "label_column": "income",
    },
    "schema": SCHEMA_PARAMS,
    "validate": VALIDATE_PARAMS,
    "monitoring": {
        "id_column": "id",
        "chunk_rows": 16,
        "model_rows": 40,
        "min_rows": 1,
        "max_quarantine_share": 0.5,
    },
    "evaluate": {
        "threshold": 0.5,
        "seed": 3,
        "importance_rows": 200,
        "importance_repeats": 2,
        "importance_top": 2,
        "curve_points": 11,
        "calibration_bins": 5,
        "latency_rows": 5,
        "batch_repeats": 2,
    },
    "gates": DEFAULT_GATES,
}
DVC_YAML = {
    "artifacts": {ARTIFACT: {"path": "models/model.skops", "type": "model"}},
    "stages": {
        "train": {
            "cmd": (
                "mkdir -p metrics models && cp inputs/metrics.json metrics/metrics.json"
                " && cp inputs/model.skops models/model.skops"
            ),
            "deps": ["inputs/metrics.json", "inputs/model.skops"],
            "params": ["train.seed"],
            "outs": ["models/model.skops"],
            "metrics": [{"metrics/metrics.json": {"cache": False}}],
        }
    },
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 with an empty bucket; its endpoint URL."""
    from moto.server import ThreadedMotoServer

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        # moto keeps its buckets in this process across servers: start each test empty
        reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=10).close()
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.stop()


def bucket_keys(endpoint: str) -> set[str]:
    client = boto3.client("s3", endpoint_url=endpoint)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def tiny_model() -> bytes:
    from stages.featurize import fit_featurizer, transform
    from stages.modelio import dumps_model
    from stages.train import fit_model
    from tests.stages.modelling_data import FEATURIZE_PARAMS, HGB_PARAMS, schema, validated_frame

    train = validated_frame(200)
    featurizer = fit_featurizer(train, schema(), FEATURIZE_PARAMS)
    model = fit_model(featurizer, transform(featurizer, train, schema()), "income", HGB_PARAMS)
    return dumps_model(model)


def git(root: Path, *args: str) -> str:
    return run(["git", *args], root).stdout.strip()


def dvc(root: Path, *args: str) -> None:
    run([DVC_BIN, *args], root)


def mlgate(root: Path, *args: str) -> None:
    from click.testing import CliRunner

    from mlgate.cli import cli

    with chdir(root):
        result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output


def score(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    return subprocess.run(
        [sys.executable, "-m", "stages.score", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def write(root: Path, path: str, content: Any) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    elif isinstance(content, str):
        target.write_text(content, encoding="utf-8")
    else:
        target.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")


@pytest.fixture
def released(tmp_path: Path, s3: str) -> Path:
    """A project whose v0.0.1 holds prod, its model only on S3 (local caches removed)."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    dvc(root, "init", "-q")
    dvc(root, "config", "core.autostage", "false")
    dvc(root, "remote", "add", "-d", "s3", f"s3://{BUCKET}/x")
    dvc(root, "remote", "modify", "s3", "endpointurl", s3)
    write(root, "dvc.yaml", DVC_YAML)
    write(root, "params.yaml", PARAMS)
    write(root, "inputs/metrics.json", json.dumps(DEFAULT_METRICS))
    write(root, "inputs/model.skops", tiny_model())
    write(root, ".gitignore", "monitoring/.cache/\n")
    dvc(root, "repro", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "pipeline")
    run(["git", "init", "-q", "--bare", "-b", "main", str(tmp_path / "origin.git")], tmp_path)
    git(root, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(root, "push", "-q", "origin", "main")
    dvc(root, "push", "-q")
    mlgate(root, "release")
    for stage in ("dev", "staging", "prod"):
        mlgate(root, "promote", "v0.0.1", stage)
    for cache in (root / ".dvc" / "cache", root / "monitoring" / ".cache"):
        if cache.exists():
            subprocess.run(["rm", "-rf", str(cache)], check=True)
    return root


def batch(root: Path, name: str, rows: int = 40, drop: str | None = None) -> str:
    from tests.stages.modelling_data import validated_frame

    frame = validated_frame(rows, seed=5, with_target=False)
    frame.insert(0, "id", range(1000, 1000 + rows))
    frame.loc[3, "age"] = 250  # out of the contract: quarantined
    if drop:
        frame = frame.drop(columns=[drop])
    frame.to_csv(root / name, index=False)
    return name


@pytest.mark.slow
def test_release_promote_score_with_the_model_and_the_log_on_s3(released: Path, s3: str) -> None:
    root = released
    before = bucket_keys(s3)
    done = score(root, "--batch", batch(root, "2026-11.csv"))
    assert done.returncode == 0, done.stderr
    assert "batch 2026-11: 39 of 40 rows scored with income-model v0.0.1" in done.stdout
    assert "pushed to the DVC remote" in done.stdout
    assert (root / "monitoring/.cache/models/v0.0.1.skops").is_file()  # fetched from S3
    log = __import__("pandas").read_parquet(root / "monitoring/predictions/2026-11.parquet")
    assert len(log) == 39 and 1003 not in set(log["id"])
    summary = json.loads((root / "monitoring/batches/2026-11.json").read_text())
    assert summary["model_version"] == "v0.0.1" and summary["quarantined"] == 1
    assert summary["model_commit"] == git(root, "rev-list", "-n1", f"{ARTIFACT}@v0.0.1")
    for kind in ("predictions", "inputs", "quarantine"):  # each batch's files on their own
        assert (root / f"monitoring/{kind}/2026-11.parquet.dvc").is_file()
        assert not (root / f"monitoring/{kind}.dvc").exists()
    assert len(bucket_keys(s3) - before) >= 3  # the three files
    # the pushed log comes back into a project without it
    (root / "monitoring/predictions/2026-11.parquet").unlink()
    subprocess.run(["rm", "-rf", str(root / ".dvc/cache")], check=True)
    dvc(root, "pull", "-q", "monitoring/predictions/2026-11.parquet.dvc")
    assert (root / "monitoring/predictions/2026-11.parquet").is_file()


@pytest.mark.slow
def test_what_cannot_be_scored_is_one_line_and_writes_nothing(released: Path) -> None:
    root = released
    good = batch(root, "good.csv")
    cases = [
        (["--batch", good, "--stage", "staging-eu"], "no version holds stage 'staging-eu'"),
        (["--batch", good, "--version", "v9.9.9"], f"{ARTIFACT} has no release v9.9.9"),
        (["--batch", batch(root, "short.csv", drop="sex")], "short.csv: missing column 'sex'"),
        (["--batch", "missing.csv"], "missing.csv: file not found"),
    ]
    for args, message in cases:
        done = score(root, *args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1, done.stderr
        assert lines[-1].startswith("score: error: ") and message in lines[-1], done.stderr
        assert not (root / "monitoring/predictions").exists()
        assert not (root / "monitoring/batches").exists()
