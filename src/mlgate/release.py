"""``mlgate release``: tag the checked-out commit ``<artifact>@vX.Y.Z`` if its gates pass.

"Latest" is the highest semantic version, not the newest tag timestamp; the next version is
computed over the local *and* the remote tags; the tag carries a lineage block
(``mlgate.lineage``) that ``history`` and ``show`` read back. Publishing is ``publish``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate import gitio, lineage
from mlgate.errors import InputError, RefusedError
from mlgate.gates import LATEST_RELEASE, NO_BASELINE
from mlgate.publish import (
    NewTag,
    Planned,
    Publisher,
    artifact_in_worktree,
    head_commit,
    now,
    tool_versions,
)
from mlgate.remote import on_default_branch
from mlgate.reproduce import require_commit
from mlgate.tags import (
    GitTagRef,
    Version,
    active_releases,
    off_commit,
    tag_artifact_name,
    taken_versions,
)

if TYPE_CHECKING:
    from mlgate.api import CheckResult


BUMPS = ("patch", "minor", "major")


class ReleaseStatus(Enum):
    """How ``release`` ended; the CLI maps it to its last lines and exit code."""

    RELEASED = "released"
    ALREADY_RELEASED = "already-released"
    GATES_FAILED = "gates-failed"  # no tag
    DRY_RUN = "dry-run"  # would release


@dataclass(frozen=True)
class ReleaseOutcome:
    """What ``release`` did. With ``dry_run`` nothing was created or pushed, and ``pushed``
    says whether a real run would push the tag: the new one, or an existing one only here."""

    status: ReleaseStatus
    artifact: str
    sha: str
    tag: str | None = None
    version: Version | None = None
    check: CheckResult | None = None
    pushed: bool = False
    notes: tuple[str, ...] = ()
    dry_run: bool = False


def next_version(names: set[str], artifact: str, bump: str) -> Version:
    """The version above every version any tag name of ``artifact`` uses (local or remote)."""
    taken = taken_versions(names, artifact)
    return max(taken, default=Version(0, 0, 0)).bump(bump)


def release_lineage(
    repo_root: Path, artifact: str, version: Version, sha: str, verdict: CheckResult
) -> dict[str, Any]:
    """The lineage block of a release: commit, metrics, gates, params, dvc.lock hashes, tool,
    and the model card (its path and md5) when an output of dvc.yaml is marked as one.

    ``metrics`` are the values the gates judged: the working tree's, so a volatile output
    (timings) is recorded as measured in this run. ``params`` and ``dvc_lock`` are read
    from the commit: a volatile output's entry keeps the hash and size committed in
    ``dvc.lock``, not those of the file measured here (which no commit holds)."""
    from mlgate.metrics import (
        declared_artifacts,
        model_card_path,
        params_files,
        read_dvc_yaml,
        read_locks,
        read_params,
        stage_outputs,
    )

    snap = gitio.Snapshot(repo_root, sha, gitio.short(sha), gitio.git_prefix(repo_root))
    dvc_yaml = read_dvc_yaml(snap)
    lock = read_locks(snap, dvc_yaml)
    model_path = str(declared_artifacts(snap, dvc_yaml).get(artifact, {}).get("path", ""))
    model = lock.get(model_path)
    card_path = model_card_path(stage_outputs(snap, dvc_yaml))
    card = lock.get(card_path) if card_path else None
    # Only when the project declares a card: blocks without one read as they always have.
    card_entry = {"model_card": {"path": card_path, "hash": card.hash if card else None}}
    return {
        "artifact": artifact,
        "version": str(version),
        "commit": sha,
        "time": now(),
        "tool": tool_versions(),
        "gates": {
            "passed": verdict.passed,
            "baseline": verdict.baseline.as_dict() if verdict.baseline else None,
            "baseline_note": verdict.baseline_note,
            "rules": [rule.as_dict() for rule in verdict.rules],
        },
        "metrics": verdict.metrics,
        "params": read_params(snap, params_files(snap, dvc_yaml)),
        "dvc_lock": {
            path: {"stage": f.stage, "kind": f.kind, "hash": f.hash, "size": f.size}
            for path, f in sorted(lock.items())
        },
        "model": {"path": model_path, "hash": model.hash if model else None},
        **(card_entry if card_path else {}),
    }


def _release_summary(artifact: str, version: Version, verdict: CheckResult) -> str:
    against = verdict.baseline.ref if verdict.baseline else "no baseline"
    return (
        f"Release {artifact} {version}: gates passed against {against} ({len(verdict.rules)} rules)"
    )


def release(
    repo_root: Path,
    rev: str | None = None,
    bump: str = "patch",
    artifact: str | None = None,
    remote: str = "origin",
    push: bool = True,
    dry_run: bool = False,
    check: Callable[..., CheckResult] | None = None,
    gates_file: Path | None = None,
) -> ReleaseOutcome:
    """Turn the checked-out commit into ``<artifact>@vX.Y.Z`` if its gates pass.

    The gates are those ``mlgate check`` would judge with: ``params.yaml`` or ``gates_file``,
    against their ``baseline`` (the latest release unless they say ``none`` or a ref).
    The working tree must be the commit, but for outputs ``dvc.yaml`` marks volatile and
    their hashes and sizes in ``dvc.lock`` (what ``mlgate reproduce`` leaves behind): those
    are judged, and recorded in the lineage, as measured.
    ``check`` defaults to ``mlgate.api.check`` (injectable for tests).
    """
    if bump not in BUMPS:
        raise InputError(f"unknown version part '{bump}' (expected {', '.join(BUMPS)})")
    root = Path(repo_root)
    head = head_commit(root)
    sha = gitio.resolve(root, rev) if rev else head
    if sha != head:
        raise RefusedError(
            f"--rev {rev} ({gitio.short(sha)}) is not the checked-out commit "
            f"({gitio.short(head)}); check it out first so its pipeline outputs can be checked"
        )
    name = artifact_in_worktree(root, artifact)
    prefix = gitio.git_prefix(root)
    require_commit(
        gitio.Snapshot(root, sha, gitio.short(sha), prefix),
        "a release must be exactly a commit",
    )
    from mlgate.api import NONE_CHOSEN, load_gates

    if check is None:
        from mlgate.api import check as api_check

        check = api_check
    worktree = gitio.snapshot(root, None, prefix)
    gates_baseline = load_gates(worktree, gates_file).baseline
    publisher = Publisher(root, remote, push, dry_run=dry_run)
    state = publisher.connect()
    if state is not None and not on_default_branch(root, state, sha):
        branch = state.default_branch or "(none: the remote has no default branch yet)"
        raise RefusedError(
            f"commit {gitio.short(sha)} is not on the default branch of '{remote}' "
            f"({branch}); push and merge it first"
        )
    verdicts: dict[str, CheckResult] = {}  # by baseline, which moves if someone releases

    def plan(tags: list[GitTagRef], names: set[str]) -> Planned[ReleaseOutcome]:
        publisher.require_local_releases(names, name)
        for ignored, why in off_commit(tags, name):
            note = f"ignored {ignored}: {why}; its version is taken all the same"
            if taken_versions([ignored], name) and note not in publisher.notes:
                publisher.notes.append(note)  # explains a version that skips ahead
        # a deregistered version no longer releases its commit (GTO registers it again)
        found = [r for r in active_releases(tags, name) if r.sha == sha]
        if found:
            done = ReleaseStatus.ALREADY_RELEASED
            return Planned(ReleaseOutcome(done, name, sha, found[0].name, found[0].version))
        active = active_releases(tags, name)
        first = NONE_CHOSEN
        if gates_baseline == LATEST_RELEASE:  # named here: it moves if someone releases first
            baseline = active[0].name if active else NO_BASELINE
            first = f"no release of '{name}' yet" if not active else first
        else:
            baseline = gates_baseline  # 'none' or a ref, as the gates say
        if baseline not in verdicts:
            verdicts[baseline] = check(root, None, baseline, gates_file, why_none=first)
        verdict = verdicts[baseline]
        if not verdict.passed:
            return Planned(ReleaseOutcome(ReleaseStatus.GATES_FAILED, name, sha, check=verdict))
        version = next_version(names, name, bump)
        tag_name = f"{tag_artifact_name(name)}@{version}"
        status = ReleaseStatus.DRY_RUN if dry_run else ReleaseStatus.RELEASED
        # Built in a dry run too: a commit whose lineage cannot be read fails either way.
        message = lineage.render(
            _release_summary(name, version, verdict),
            release_lineage(root, name, version, sha, verdict),
        )
        outcome = ReleaseOutcome(status, name, sha, tag_name, version, verdict, pushed=push)
        return Planned(outcome, NewTag(tag_name, sha, message))

    outcome = publisher.publish(plan)
    if outcome.status is ReleaseStatus.ALREADY_RELEASED and outcome.tag is not None:
        # released with --no-push, or its push was lost: publish it now
        outcome = replace(outcome, pushed=publisher.ensure_published(outcome.tag))
    return replace(outcome, notes=tuple(publisher.notes), dry_run=dry_run)
