"""`mlgate show`: one release and what produced it, found by version, stage or 'latest'."""

from __future__ import annotations

import json

import pytest

from mlgate.lineage import BEGIN, END
from tests.mlgate.registry_repo import ARTIFACT, Published, metrics_with, published

__all__ = ["published"]


def ok(p: Published, *args: str) -> str:
    result = p.mlgate(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def error(p: Published, *args: str) -> str:
    result = p.mlgate(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    return result.stderr.strip()


@pytest.fixture
def released(published: Published) -> Published:
    """v0.0.1 (promoted to dev), then v0.0.2 on a commit with other metrics."""
    p = published
    ok(p, "release")
    ok(p, "promote", "v0.0.1", "dev")
    p.repo.set_metrics(metrics_with(roc_auc=0.935))
    p.repo.repro()
    p.repo.commit("better model")
    p.push()
    ok(p, "release")
    return p


def test_show_latest_names_the_data_code_params_and_model_behind_it(released: Published) -> None:
    p = released
    lines = ok(p, "show").splitlines()
    head = p.repo.git("rev-parse", "HEAD")
    assert lines[0].startswith(f"{ARTIFACT}@v0.0.2  commit {head[:12]}")
    assert lines[1] == f"gates: passed against {ARTIFACT}@v0.0.1, 4 rules"
    model_hash = json.loads(ok(p, "show", "--format", "json"))["block"]["model"]["hash"]
    assert model_hash and model_hash in p.repo.read("dvc.lock")
    assert lines[2] == f"model: models/model.bin  {model_hash}"
    assert "roc_auc 0.935" in lines[3]
    inputs = lines[lines.index("inputs (dvc.lock):") + 1 :]
    assert inputs[0].startswith("  inputs/metrics.json  ") and inputs[0].endswith("(train)")
    assert lines[-1] == "params: params.yaml (3 values; --format json lists them)"


def test_show_a_stage_or_a_version(released: Published) -> None:
    p = released
    first = p.repo.git("rev-parse", "HEAD~1")
    by_stage = ok(p, "show", "dev").splitlines()
    assert by_stage[0].startswith(f"{ARTIFACT}@v0.0.1  commit {first[:12]}")
    assert by_stage[0].endswith("stages: dev")
    first_release = f"no release of '{ARTIFACT}' yet"  # what the first release was judged on
    assert by_stage[1] == f"gates: passed with no baseline ({first_release}), 4 rules"
    as_json = json.loads(ok(p, "show", "0.0.1", "--format", "json"))
    assert as_json["version"] == "v0.0.1" and as_json["stages"] == ["dev"]
    assert as_json["block"]["commit"] == first
    assert as_json["block"]["params"]["params.yaml"]["train.seed"] == 1


def test_unknown_refs_are_one_line_errors(released: Published) -> None:
    p = released
    assert error(p, "show", "prod") == (
        f"mlgate: error: no version of '{ARTIFACT}' holds stage 'prod'"
    )
    assert error(p, "show", "v9.9.9") == f"mlgate: error: no release {ARTIFACT}@v9.9.9"
    assert "'nonsense' is not a semantic version" in error(p, "show", "nonsense")


def test_no_release_yet(published: Published) -> None:
    assert error(published, "show") == f"mlgate: error: no release of '{ARTIFACT}' yet"


def test_a_release_made_by_another_tool_has_no_lineage(published: Published) -> None:
    p = published
    p.repo.git("tag", "-a", f"{ARTIFACT}@v1.0.0", "-m", "registered by gto")
    lines = ok(p, "show").splitlines()
    assert lines[1] == "no lineage block (a tag mlgate did not make)"
    assert lines[2].startswith("metrics (from the files at its commit): ")
    assert "roc_auc 0.93" in lines[2]


def test_json_stays_strict_with_nan_in_a_lineage_block(published: Published) -> None:
    """A block without a checksum (accepted when reading) may hold NaN or Infinity, which
    Python's json reads and writes but no other parser does: the output turns them to text."""
    p = published
    sha = p.repo.git("rev-parse", "HEAD")
    block = f'{{"schema": 1, "commit": "{sha}", "version": "v1.0.0", "note": NaN, "big": Infinity}}'
    message = f"by hand\n\n{BEGIN}\n{block}\n{END}\n"
    p.repo.git("tag", "-a", "--cleanup=verbatim", f"{ARTIFACT}@v1.0.0", "-m", message)
    result = p.mlgate("show", "--format", "json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout, parse_constant=pytest.fail)  # strict: no NaN/Infinity
    assert shown["block"]["note"] == "nan" and shown["block"]["big"] == "inf"
