"""`mlgate show --format md`: a release's model card with its gate verdict and baseline, read
at the release commit (git, else DVC's cache); a release made before the card existed gets
one built from its lineage, and says so."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from mlgate.errors import ConfigError
from mlgate.lineage import ReleaseRecord
from mlgate.metrics import StageOutput, model_card_path
from mlgate.render.markdown import _as_text
from tests.mlgate.registry_repo import ARTIFACT, Published, metrics_with, published

__all__ = ["published"]

CARD = "# Model card\n\nA demo model.\n\n## Metrics\n\n| metric | value |\n|---|---|\n"


def ok(p: Published, *args: str) -> str:
    result = p.mlgate(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def with_card_stage(p: Published, cached: bool) -> None:
    """Add a stage that writes the card (marked `meta: {model_card: true}`), reproduce it and
    commit; `cached`: the card lives in DVC's cache, not in git."""
    dvc_yaml = yaml.safe_load(p.repo.read("dvc.yaml"))
    options: dict[str, Any] = {"meta": {"model_card": True}}
    if not cached:
        options["cache"] = False
    dvc_yaml["stages"]["card"] = {
        "cmd": "mkdir -p reports && cp inputs/card.md reports/model_card.md",
        "deps": ["inputs/card.md"],
        "outs": [{"reports/model_card.md": options}],
    }
    p.repo.write("dvc.yaml", dvc_yaml)
    p.repo.write("inputs/card.md", CARD)
    p.repo.set_metrics(metrics_with(roc_auc=0.935))
    p.repo.repro()
    p.repo.commit("a model card")
    p.push()


@pytest.fixture
def carded(published: Published) -> Published:
    """v0.0.1 made before the project had a card; v0.0.2 with one (committed to git)."""
    p = published
    ok(p, "release")
    with_card_stage(p, cached=False)
    ok(p, "release")
    return p


def test_a_release_with_a_card_prints_it_with_its_verdict(carded: Published) -> None:
    p = carded
    out = ok(p, "show", "v0.0.2", "--format", "md")
    assert out.startswith(CARD.rstrip("\n") + "\n\n## Release\n")
    assert f"### Gates: ✅ passed against `{ARTIFACT}@v0.0.1`, 4 rules" in out
    assert "| roc_auc | 0.935 | 0.93 | +0.005 (+0.54%) | ✅ " in out
    lock = yaml.safe_load(p.repo.read("dvc.lock"))
    card_md5 = lock["stages"]["card"]["outs"][0]["md5"]
    assert f"| model card | `reports/model_card.md` md5 `{card_md5}` |" in out
    # the lineage points at the card; `latest` is the same release
    block = json.loads(ok(p, "show", "--format", "json"))["block"]
    assert block["model_card"] == {"path": "reports/model_card.md", "hash": card_md5}
    assert ok(p, "show", "latest", "--format", "md") == out
    text = ok(p, "show").splitlines()
    assert f"model card: reports/model_card.md  {card_md5} (--format md prints it)" in text


def test_a_release_from_before_the_card_is_built_from_its_lineage(carded: Published) -> None:
    """...and a version there is not is one line, exit 2."""
    out = ok(carded, "show", "v0.0.1", "--format", "md")
    lines = out.splitlines()
    assert lines[0] == f"# Model card: `{ARTIFACT}@v0.0.1`"
    assert lines[2] == (
        "> Built from the release's lineage alone: the release was made before the project "
        "had a model card (its lineage names none)."
    )
    assert "| roc_auc | 0.93 |" in lines
    assert "## Data and code it was built from (dvc.lock)" in lines
    first = f"no release of '{ARTIFACT}' yet"
    assert f"### Gates: ✅ passed with no baseline ({first}), 4 rules" in lines
    assert "model card" not in out.split("## Release")[1].split("###")[0]
    assert "model_card" not in json.loads(ok(carded, "show", "v0.0.1", "--format", "json"))["block"]
    unknown = carded.mlgate("show", "v9.9.9", "--format", "md")  # one line, exit 2
    assert unknown.exit_code == 2 and unknown.stdout == ""
    assert unknown.stderr == f"mlgate: error: no release {ARTIFACT}@v9.9.9\n"


def test_a_card_in_dvcs_cache_is_read_from_there(published: Published) -> None:
    p = published
    with_card_stage(p, cached=True)
    assert "reports/model_card.md" not in p.repo.git("ls-files")
    ok(p, "release")
    assert ok(p, "show", "--format", "md").startswith(CARD.rstrip("\n") + "\n\n## Release\n")


def test_a_card_that_is_not_the_one_recorded_is_not_shown(carded: Published) -> None:
    """The lineage's md5 vouches for the card: a release whose card at the commit differs
    (a block copied by hand, say) is shown from its lineage, and why."""
    p = carded
    p.repo.git("checkout", "-q", f"{ARTIFACT}@v0.0.2")
    p.repo.write("reports/model_card.md", "# Not the card\n")
    p.repo.commit("another card")
    message = p.repo.git("for-each-ref", "--format=%(contents)", f"refs/tags/{ARTIFACT}@v0.0.2")
    sha = p.repo.git("rev-parse", "HEAD")
    old = p.repo.git("rev-parse", f"{ARTIFACT}@v0.0.2^{{commit}}")
    forged = message.replace(old, sha).replace('"version": "v0.0.2"', '"version": "v0.0.3"')
    forged = forged.replace("-----END MLGATE LINEAGE crc32:", "-----X")
    forged = forged.split("-----X")[0] + "-----END MLGATE LINEAGE-----\n"  # no checksum
    p.repo.git("tag", "-a", "--cleanup=verbatim", "-m", forged, f"{ARTIFACT}@v0.0.3")
    out = ok(p, "show", "v0.0.3", "--format", "md")
    assert "# Not the card" not in out
    assert "> Built from the release's lineage alone: the card its lineage names cannot be " in out
    assert "reports/model_card.md at " in out and "its lineage records." in out


def test_old_and_odd_blocks_read_without_a_card() -> None:
    old = ReleaseRecord.from_block({"gates": {"passed": True, "rules": []}})
    assert (old.card_path, old.card_hash, old.gate_rules) == (None, None, ())
    odd = ReleaseRecord.from_block(
        {
            "model_card": "reports/card.md",  # not a mapping: no card
            "gates": {"rules": [{"metric": "a", "passed": False, "severity": "warn"}, 3]},
        }
    )
    assert odd.card_path is None
    assert [(r.metric, r.outcome, r.value) for r in odd.gate_rules] == [("a", "WARN", None)]
    new = ReleaseRecord.from_block({"model_card": {"path": "r/c.md", "hash": "ab"}})
    assert (new.card_path, new.card_hash) == ("r/c.md", "ab")


def test_control_characters_of_a_card_do_not_reach_the_terminal() -> None:
    assert _as_text("# Card\r\n\x1b[31mred\x07\ttab\n\n") == "# Card\n\\x1b[31mred\\x07\ttab"


def test_a_project_marks_at_most_one_card() -> None:
    def out(path: str, card: bool) -> StageOutput:
        return StageOutput("dvc.yaml", "s", "", path, model_card=card)

    assert model_card_path([out("a.md", False)]) is None
    assert model_card_path([out("a.md", False), out("r/card.md", True)]) == "r/card.md"
    with pytest.raises(ConfigError, match=r"2 outputs are marked .* \(a.md, b.md\); a release"):
        model_card_path([out("b.md", True), out("a.md", True)])
