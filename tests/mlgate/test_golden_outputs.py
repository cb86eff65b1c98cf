"""Golden outputs: ``check``, ``report``, ``history``, ``show``, ``release`` and ``promote``
byte for byte, in every format they take, with their exit codes and error lines.

The outputs are the user's contract (issue 15: "byte-identical"), so they are pinned from the
code as it was before the operations, renderers and registry were split apart. One scratch
repository is built per module with fixed git dates, so commit shas are stable; what still
varies (the temporary path, the time a lineage block was written, the tool versions) is
normalised, and shas
are replaced by the name of the commit they belong to, so a golden file reads as a story.

To regenerate after an intended change: ``MLGATE_UPDATE_GOLDEN=1 pytest tests/mlgate/
test_golden_outputs.py`` and review the diff of ``tests/mlgate/golden/``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlgate.cli import cli
from mlgate.lineage import BEGIN
from tests.mlgate.conftest import isolated_identity
from tests.mlgate.registry_repo import chdir
from tests.mlgate.repo_factory import DEFAULT_GATES, ScratchRepo, metrics_with

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("MLGATE_UPDATE_GOLDEN") == "1"
DATE = "2026-01-02T03:04:05+00:00"

# (case name, arguments) in the order they run; every case is captured at that moment.
Case = tuple[str, tuple[str, ...]]


def _capture(root: Path, args: tuple[str, ...]) -> str:
    with chdir(root):
        result = CliRunner().invoke(cli, list(args))
    head = f"$ mlgate {' '.join(args)}\nexit {result.exit_code}\n"
    return f"{head}--- stdout\n{result.stdout}--- stderr\n{result.stderr}"


def _normalise(text: str, root: Path, names: dict[str, str]) -> str:
    text = text.replace(str(root.resolve()), "<ROOT>").replace(str(root), "<ROOT>")
    text = re.sub(r'"time": "[^"]+"', '"time": "<TIME>"', text)
    # the tool versions a lineage block and the report's footer record: the environment's
    text = re.sub(r'"(dvc|mlgate)": "[^"]+"', r'"\1": "<VERSION>"', text)
    text = re.sub(r"<sub>mlgate [^<]+</sub>", "<sub>mlgate <VERSION></sub>", text)
    for sha, name in names.items():
        text = text.replace(sha, f"<{name}>").replace(sha[:12], f"<{name}:12>")
        text = text.replace(sha[:8], f"<{name}:8>")
    return text


class Story:
    """A scratch repository taken through releases, stages, a branch and a failing change."""

    def __init__(self, root: Path) -> None:
        self.repo = ScratchRepo.create(root)
        self.root = root
        self.captured: dict[str, str] = {}
        self.commits: dict[str, str] = {"initial": self.repo.git("rev-parse", "HEAD")}

    def run(self, name: str, *args: str) -> None:
        assert name not in self.captured, name
        self.captured[name] = _capture(self.root, args)

    def commit(self, label: str, metrics: dict[str, object]) -> None:
        self.repo.set_metrics(metrics)
        self.repo.repro()
        self.commits[label] = self.repo.commit(label)

    def annotated(self, name: str, message: str) -> None:
        self.repo.git("tag", "-a", "--cleanup=verbatim", "-m", message, name)

    def play(self) -> None:
        run = self.run
        for fmt in ("text", "json", "md"):
            run(f"check_no_release_{fmt}", "check", "--format", fmt)
        run("check_baseline_none_text", "check", "--baseline", "none")
        for fmt in ("text", "json"):
            run(f"history_empty_{fmt}", "history", "--format", fmt)
        run("show_empty_error", "show")
        run("release_dry_run_first", "release", "--no-push", "--dry-run")
        run("release_first", "release", "--no-push")
        run("release_again", "release", "--no-push")
        run("release_dry_run_again", "release", "--no-push", "--dry-run")
        run("promote_dev_first", "promote", "v0.0.1", "dev", "--no-push")
        run("promote_dev_again", "promote", "v0.0.1", "dev", "--no-push")
        run("promote_prod_refused", "promote", "v0.0.1", "prod", "--no-push")
        self.commit("better", metrics_with(roc_auc=0.935))
        run("release_second", "release", "--no-push", "--bump", "minor")
        run("promote_second_dev", "promote", "v0.1.0", "dev", "--no-push")
        run("promote_second_staging", "promote", "v0.1.0", "staging", "--no-push")
        run(
            "promote_first_prod_forced",
            "promote",
            "v0.0.1",
            "prod",
            "--no-push",
            "--force",
            "--message",
            "hotfix",
        )
        for fmt in ("text", "json", "md"):
            run(f"check_released_{fmt}", "check", "--format", fmt)
        # a release tag mlgate did not make (no lineage), and one whose block is damaged
        self.commit("plain", metrics_with(roc_auc=0.94, accuracy=0.88))
        self.annotated("demo-model@v0.2.0", "release v0.2.0")
        self.commit("damaged", metrics_with(roc_auc=0.941))
        self.annotated("demo-model@v0.2.1", f"release v0.2.1\n\n{BEGIN}\n{{not json\n")
        run("rollback_dev", "rollback", "dev", "--message", "bad canary", "--no-push")
        for fmt in ("text", "json"):
            run(f"history_{fmt}", "history", "--format", fmt)
        run("history_limit_metric", "history", "--limit", "2", "--metric", "accuracy")
        run("history_metric_nested", "history", "--metric", "latency.p95_ms")
        for ref in ("latest", "v0.0.1", "dev", "staging", "prod", "v0.2.0", "v0.2.1"):
            for fmt in ("text", "json"):
                run(f"show_{ref}_{fmt}", "show", ref, "--format", fmt)
        # the model card: built from the lineage (no card in this project), from the files at
        # the commit (no lineage block), or with the damaged block named
        for ref in ("v0.1.0", "v0.2.0", "v0.2.1"):
            run(f"show_{ref}_md", "show", ref, "--format", "md")
        run("show_unknown_version", "show", "v9.9.9")
        run("show_bad_ref", "show", "nonsense")
        # a pull request: metrics, a param and a loosened gate change on a branch
        self.repo.git("checkout", "-q", "-b", "feature")
        gates = json.loads(json.dumps(DEFAULT_GATES))
        gates["rules"][1]["min"] = 0.8
        self.repo.write_params(gates=gates, seed=7)
        self.commit("feature", metrics_with(roc_auc=0.931, accuracy=0.9, latency__p95_ms=12.0))
        run("report_feature", "report", "--base", "main")
        run("report_same", "report", "--base", "feature", "--head", "main")
        run("check_rev_text", "check", "--rev", "main", "--format", "text")
        for fmt in ("text", "json", "md"):
            run(f"check_warned_{fmt}", "check", "--format", fmt)
        self.repo.git("checkout", "-q", "main")
        self.repo.repro()
        # a failing working tree (reproduced), then a stale one
        self.repo.set_metrics(
            metrics_with(roc_auc=0.80, fairness__sex__equalized_odds_difference=0.2)
        )
        self.repo.repro()
        for fmt in ("text", "json", "md"):
            run(f"check_failing_{fmt}", "check", "--format", fmt)
        run("check_failing_baseline_ref", "check", "--baseline", "demo-model@v0.0.1")
        run("release_dirty_refused", "release", "--no-push")
        self.commits["failing"] = self.repo.commit("failing")
        run("release_gates_failed", "release", "--no-push")
        self.repo.set_metrics(metrics_with(roc_auc=0.95))
        run("check_stale", "check")
        run("check_allow_stale_json", "check", "--allow-stale", "--format", "json")
        run("check_missing_gates_file", "check", "--gates", "nowhere.yaml")
        run("check_unknown_baseline", "check", "--allow-stale", "--baseline", "no-such-ref")
        run("history_bad_format", "history", "--format", "xml")
        run("report_unknown_base", "report", "--base", "no-such-branch")

    def normalised(self) -> dict[str, str]:
        names = {sha: label for label, sha in self.commits.items()}
        return {case: _normalise(text, self.root, names) for case, text in self.captured.items()}


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("golden-home")
    with isolated_identity(home), pytest.MonkeyPatch.context() as mp:
        for var in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
            mp.setenv(var, DATE)
        mp.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        mp.delenv("NO_COLOR", raising=False)
        mp.delenv("COLUMNS", raising=False)  # files are not wrapped: the goldens pin that
        played = Story(tmp_path_factory.mktemp("golden") / "repo")
        played.play()
        yield played.normalised()


def _cases() -> list[str]:
    return sorted(path.stem for path in GOLDEN.glob("*.txt"))


def test_every_case_has_a_golden_file(story: dict[str, str]) -> None:
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        for old in GOLDEN.glob("*.txt"):
            old.unlink()
        for case, text in story.items():
            (GOLDEN / f"{case}.txt").write_text(text, encoding="utf-8")
    assert sorted(story) == _cases()


@pytest.mark.parametrize("case", _cases())
def test_output_is_byte_identical(story: dict[str, str], case: str) -> None:
    expected = (GOLDEN / f"{case}.txt").read_text(encoding="utf-8")
    assert story[case] == expected


def test_the_story_covers_every_exit_code_and_format(story: dict[str, str]) -> None:
    """The golden files would pin little if every case exited 0 in one format."""
    codes = {re.search(r"^exit (\d+)$", text, re.M).group(1) for text in story.values()}  # type: ignore[union-attr]
    assert codes == {"0", "1", "2"}
    assert any("--format md" in text.splitlines()[0] for text in story.values())
    assert "lineage corrupt" in story["history_text"]
    assert "no lineage" in story["history_text"]
