"""`history` and `show` on real layouts, each compared with what DVC or GTO says.

The scratch project logs what dvclive's ``log_metric("test/roc_auc")`` writes (nested
mappings, which DVC shows as dotted keys), declares two artifacts, and holds releases made
both ways: one by ``mlgate release`` (a lineage block) and the others by GTO's own API
(plain messages, "Registering artifact NAME version vX.Y.Z"), so that the listing reads their
metrics from the files at the tag's commit.
"""

from __future__ import annotations

import copy
import json

import pytest

from mlgate.api import locate
from mlgate.errors import ConfigError
from mlgate.metrics import MetricsAt
from tests.mlgate.registry_repo import ARTIFACT, Published, published
from tests.mlgate.repo_factory import DVC_YAML

__all__ = ["published"]

gto_api = pytest.importorskip("gto.api")
dvc_api = pytest.importorskip("dvc.api")
dvc_flatten = pytest.importorskip("dvc.utils.flatten").flatten

DATASET = "demo-data"
# what dvclive writes for log_metric("test/roc_auc"), ("test/acc"), ("train/roc_auc"), ("loss")
DVCLIVE_FIRST = {"test": {"roc_auc": 0.9, "acc": 0.8}, "train": {"roc_auc": 0.95}, "loss": 0.1}
DVCLIVE_SECOND = {"test": {"roc_auc": 0.8, "acc": 0.7}, "train": {"roc_auc": 0.85}, "loss": 0.2}
GATES = {
    "baseline": "none",
    "main_metric": "test.acc",
    "rules": [{"metric": "test.roc_auc", "direction": "higher", "min": 0.5}],
}
# main_metric, the gated metric, then the rest by name (as `dvc metrics show` orders columns)
ORDER = ["test.acc", "test.roc_auc", "loss", "train.roc_auc"]


def ok(p: Published, *args: str) -> str:
    result = p.mlgate(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def listing(p: Published, *args: str) -> list[dict]:
    return json.loads(ok(p, "history", "--format", "json", *args))


@pytest.fixture
def dvclive(published: Published) -> Published:
    """demo-model v0.0.1 by mlgate (lineage), v0.0.2 by GTO and assigned to prod by GTO;
    demo-data v1.0.0 by GTO; nested metrics committed in metrics/metrics.json."""
    p = published
    two = copy.deepcopy(DVC_YAML)
    two["artifacts"][DATASET] = {"path": "inputs/metrics.json", "type": "dataset"}
    p.repo.write("dvc.yaml", two)
    p.repo.write_params(GATES)
    p.repo.set_metrics(DVCLIVE_FIRST)
    p.repo.repro()
    p.repo.commit("dvclive metrics")
    p.push()
    ok(p, "release", "--no-push")
    p.repo.set_metrics(DVCLIVE_SECOND)
    p.repo.repro()
    p.repo.commit("a worse model")
    root = str(p.root)
    gto_api.register(root, ARTIFACT, "HEAD", version="v0.0.2")
    gto_api.register(root, DATASET, "HEAD", version="v1.0.0")
    gto_api.assign(root, ARTIFACT, "prod", version="v0.0.2")
    return p


def test_nested_metrics_are_listed_as_dvc_shows_them_for_both_kinds_of_tag(
    dvclive: Published,
) -> None:
    p = dvclive
    by_gto, by_mlgate = listing(p, "--artifact", ARTIFACT)
    assert by_gto["lineage"] == "missing" and by_mlgate["lineage"] == "ok"
    for entry in (by_gto, by_mlgate):
        assert list(entry["metrics"]) == ORDER
        # the numbers `dvc metrics show` reads at that tag, under the same keys
        shown = dvc_api.metrics_show(rev=entry["tag"], repo=str(p.root))
        assert entry["metrics"] == dvc_flatten(shown)  # as `dvc metrics show` tabulates it
    assert by_gto["metrics"]["test.roc_auc"] == 0.8
    assert by_mlgate["metrics"]["test.roc_auc"] == 0.9


def test_a_dotted_metric_is_a_column(dvclive: Published) -> None:
    lines = ok(dvclive, "history", "--artifact", ARTIFACT, "--metric", "test.roc_auc").splitlines()
    assert lines[0].split() == ["version", "date", "commit", "stages", "test.roc_auc", "note"]
    assert lines[2].split()[0] == "v0.0.2" and lines[2].split()[4:6] == ["prod", "0.8"]
    assert lines[3].split()[0] == "v0.0.1" and lines[3].split()[4] == "0.9"
    # without --metric: the first three, gated first (no accuracy, f1 or roc_auc here)
    default = ok(dvclive, "history", "--artifact", ARTIFACT).splitlines()[0].split()
    assert default[4:7] == ORDER[:3]


def test_every_artifact_is_listed_as_gto_show_lists_them(dvclive: Published) -> None:
    p = dvclive
    entries = listing(p)
    assert [(e["artifact"], e["version"]) for e in entries] == [
        (DATASET, "v1.0.0"),
        (ARTIFACT, "v0.0.2"),
        (ARTIFACT, "v0.0.1"),
    ]
    gto_rows = gto_api.show(str(p.root))  # what `gto show --json` prints
    assert set(gto_rows) == {e["artifact"] for e in entries}
    for name, row in gto_rows.items():
        newest = next(e for e in entries if e["artifact"] == name)  # semver order
        assert row["version"] == newest["version"]
        assert {(s, held) for s, held in row["stage"].items() if held} == {
            (stage, e["version"]) for e in entries if e["artifact"] == name for stage in e["stages"]
        }
    text = ok(p, "history")
    tables = text.split("\n\n")
    assert [table.splitlines()[0] for table in tables] == [DATASET, ARTIFACT]
    assert tables[1].splitlines()[1].split()[:6] == [
        "version",
        "date",
        "commit",
        "stages",
        *ORDER[:2],
    ]


def test_an_unknown_artifact_is_an_error_naming_the_declared_ones(dvclive: Published) -> None:
    result = dvclive.mlgate("history", "--artifact", "nosuch")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f"mlgate: error: dvc.yaml: no artifact 'nosuch' (declared: {DATASET}, {ARTIFACT})\n"
    )
    # gto agrees there is no such artifact
    with pytest.raises(Exception, match="nosuch"):
        gto_api.show(str(dvclive.root), "nosuch")


@pytest.mark.parametrize(
    "ref", [f"{ARTIFACT}@v0.0.2", f"{ARTIFACT}#prod", f"{ARTIFACT}@latest", "prod", "v0.0.2"]
)
def test_show_takes_refs_as_gto_prints_them(dvclive: Published, ref: str) -> None:
    p = dvclive
    shown = json.loads(ok(p, "show", ref, "--format", "json"))
    (holder,) = gto_api.find_versions_in_stage(str(p.root), ARTIFACT, "prod")
    assert shown["version"] == holder.version == "v0.0.2"
    assert shown["artifact"] == ARTIFACT and set(shown["metrics"]) == set(ORDER)  # sorted
    text = ok(p, "show", ref).splitlines()
    assert text[0].startswith(f"{ARTIFACT}@v0.0.2  commit ")
    assert text[2].startswith("metrics (from the files at its commit): test.acc 0.7  ")


def test_show_another_artifact_by_its_gto_name(dvclive: Published) -> None:
    shown = json.loads(ok(dvclive, "show", f"{DATASET}@v1.0.0", "--format", "json"))
    assert (shown["artifact"], shown["tag"]) == (DATASET, f"{DATASET}@v1.0.0")
    latest = gto_api.find_latest_version(str(dvclive.root), DATASET)
    assert latest.version == shown["version"]


def test_show_refs_that_name_nothing_are_one_line_errors(dvclive: Published) -> None:
    def error(*args: str) -> str:
        result = dvclive.mlgate("show", *args)
        assert result.exit_code == 2 and result.stdout == "", result.output
        return result.stderr

    assert error(f"{ARTIFACT}#staging") == (
        f"mlgate: error: no version of '{ARTIFACT}' holds stage 'staging'\n"
    )
    assert error(f"{ARTIFACT}@v9.9.9") == f"mlgate: error: no release {ARTIFACT}@v9.9.9\n"
    assert error("nosuch@v1.0.0").startswith("mlgate: error: dvc.yaml: no artifact 'nosuch'")
    assert "differ" in error(f"{DATASET}@v1.0.0", "--artifact", ARTIFACT)
    assert "names no release" in error(f"{ARTIFACT}@")


def test_a_gate_on_a_mapping_names_the_keys_inside(dvclive: Published) -> None:
    p = dvclive
    p.repo.write_params({**GATES, "rules": [{"metric": "test", "direction": "higher", "min": 0.5}]})
    result = p.mlgate("check", "--allow-stale")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "mlgate: error: params.yaml: gates rule 'test': 'test' is a mapping; "
        "its keys: test.roc_auc, test.acc\n"
    )


def _metrics(files: dict[str, dict | None]) -> MetricsAt:
    return MetricsAt("head", files)


def test_locate_names_the_nested_keys_of_a_mapping() -> None:
    head = _metrics({"eval/metrics.json": {"test.roc_auc": 0.9, "test.acc": 0.8, "loss": 0.1}})
    with pytest.raises(ConfigError) as raised:
        locate("test", head, None, "params.yaml", "gates.main_metric")
    assert str(raised.value) == (
        "params.yaml: gates.main_metric 'test': 'test' is a mapping; "
        "its keys: test.roc_auc, test.acc"
    )
    with pytest.raises(ConfigError, match="'test' is a mapping; its keys: test.roc_auc"):
        locate("eval/metrics.json:test", head, None, "params.yaml")
    many = _metrics({"m.json": {f"a.k{i}": i for i in range(12)}})
    with pytest.raises(ConfigError, match=r"a\.k9, \.\.\. \(12 in all\)$"):
        locate("a", many, None, "params.yaml")
    # a key that is itself dotted, or a prefix that is no mapping, is not refused
    assert locate("test.acc", head, None, "params.yaml") == ("eval/metrics.json", "test.acc")
    with pytest.raises(ConfigError, match="no metrics file declared in dvc.yaml has this key"):
        locate("tes", head, None, "params.yaml")
