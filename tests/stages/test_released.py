"""stages/released.py in a scratch registry: what a stage or version names, and its files
fetched through DVC at the release commit (the DVC remote itself: tests/test_score_e2e.py)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from stages.common import StageError
from stages.released import MODELS_CACHE, fetch_model, fetch_reference, resolve
from tests.mlgate.conftest import _template_repo, scratch_repo
from tests.mlgate.registry_repo import ARTIFACT, Published, metrics_with, published

__all__ = ["_template_repo", "published", "scratch_repo"]


def mlgate_ok(p: Published, *args: str) -> None:
    result = p.mlgate(*args)
    assert result.exit_code == 0, result.output


@pytest.fixture
def released(published: Published) -> Published:
    """v0.0.1 in prod; v0.0.2 (another model file) released, in no stage."""
    mlgate_ok(published, "release")
    for stage in ("dev", "staging", "prod"):
        mlgate_ok(published, "promote", "v0.0.1", stage)
    published.repo.set_metrics(metrics_with(roc_auc=0.95))
    published.repo.repro()
    published.repo.commit("second model")
    published.push()
    mlgate_ok(published, "release")
    return published


def test_resolve_names_the_release_holding_a_stage_or_a_version(released: Published) -> None:
    root = released.root
    prod = resolve(root=root)  # prod by default
    assert (prod.artifact, prod.version, prod.tag) == (ARTIFACT, "v0.0.1", f"{ARTIFACT}@v0.0.1")
    assert prod.commit == released.repo.git("rev-parse", f"{ARTIFACT}@v0.0.1^{{commit}}")
    assert resolve(version="v0.0.2", root=root).commit == released.repo.git("rev-parse", "HEAD")
    assert resolve(version="0.0.2", root=root).version == "v0.0.2"
    assert resolve(stage="dev", root=root).version == "v0.0.1"


REFUSED = [
    ("staging-eu", None, f"no version holds stage 'staging-eu' of {ARTIFACT}"),
    (None, "v9.9.9", f"{ARTIFACT} has no release v9.9.9"),
    (None, "latest", "'latest' is not a semantic version"),
    ("prod", "v0.0.1", "give a stage or a version, not both"),
]


def test_resolve_refuses_what_names_no_release(released: Published) -> None:
    for stage, version, message in REFUSED:
        with pytest.raises(StageError, match=message):
            resolve(stage, version, released.root)


def test_a_stage_tag_on_an_unreleased_commit_names_nothing(published: Published) -> None:
    repo = published.repo
    repo.git("tag", "-a", f"{ARTIFACT}#prod#1", "-m", "prod")  # GTO-style, but no release
    with pytest.raises(StageError, match="no version holds stage 'prod'"):
        resolve(root=published.root)


def test_fetch_model_reads_the_release_commits_output_and_keeps_it(released: Published) -> None:
    root = released.root
    first = resolve(version="v0.0.1", root=root)
    path = fetch_model(first, root)
    assert path == root / MODELS_CACHE / "v0.0.1.skops"
    committed = released.repo.git("show", f"{first.commit}:dvc.lock")
    assert hashlib.md5(path.read_bytes()).hexdigest() in committed
    # the working tree holds v0.0.2's model: the file is v0.0.1's, from the DVC cache
    assert path.read_bytes() != (root / "models/model.bin").read_bytes()
    path.write_bytes(b"tampered")  # a damaged cached copy is fetched again
    assert fetch_model(first, root).read_bytes() != b"tampered"


def test_fetch_without_the_object_anywhere_is_one_line(released: Published) -> None:
    shutil.rmtree(released.root / ".dvc" / "cache")
    with pytest.raises(StageError, match=r"models/model\.bin at demo-model@v0\.0\.1: cannot fetch"):
        fetch_model(resolve(version="v0.0.1", root=released.root), released.root)
    assert not list((released.root / MODELS_CACHE).iterdir())  # nothing half-written


def test_fetch_reference_needs_the_validated_test_split_declared(released: Published) -> None:
    with pytest.raises(StageError, match=r"dvc\.yaml at demo-model@v0\.0\.1: no vars entry"):
        fetch_reference(resolve(root=released.root), released.root)


def test_files_of_the_release_are_read_at_its_commit(released: Published, tmp_path: Path) -> None:
    # an artifact path changed after the release does not change what the release is
    dvc_yaml = released.root / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("path: models/model.bin", "path: x.bin"))
    assert fetch_model(resolve(root=released.root), released.root).is_file()


def test_fetch_reference_reads_the_split_dvc_yaml_vars_name(released: Published) -> None:
    from stages.released import REFERENCE_CACHE

    repo = released.repo
    dvc_yaml = repo.read("dvc.yaml")
    # any output of the release commit will do: here the model file plays the test split
    repo.write("dvc.yaml", "vars:\n  - paths:\n      valid_test: models/model.bin\n" + dvc_yaml)
    repo.commit("declare the test split")
    released.push()
    mlgate_ok(released, "release")
    third = resolve(version="v0.0.3", root=released.root)
    path = fetch_reference(third, released.root)
    assert path == released.root / REFERENCE_CACHE / "v0.0.3.parquet"
    assert path.read_bytes() == (released.root / "models/model.bin").read_bytes()
