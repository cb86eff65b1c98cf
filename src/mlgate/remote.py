"""Talking to the git remote of a registry: read its refs, fetch its tags, push one tag.

The registry is only as safe as the remote's refusal to overwrite a tag: two clones that
pick the same next version both create it locally, only the first push wins, and the loser
must notice. ``push_tag`` reads what git said about the pushed ref and reports what
happened; the caller removes its local tag and tries again. Every git command runs in
``mlgate.gitio``; this module decides what its answers mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from mlgate import gitio
from mlgate.errors import RefusedError


@dataclass(frozen=True)
class RemoteState:
    """What ``git ls-remote`` says about a remote, without changing anything locally."""

    name: str
    default_branch: str | None  # e.g. "main"; None when the remote's HEAD is unborn
    tags: frozenset[str]
    branch_sha: str | None = None  # the default branch's tip
    tag_objects: dict[str, str] = field(default_factory=dict, compare=False)  # name -> object


def require_remote(repo_root: str | Path, name: str) -> str:
    """The URL of remote ``name``; refuses when the repository has no such remote."""
    names = gitio.remote_names(repo_root)
    if name not in names:
        if not names:
            raise RefusedError(
                "the repository has no git remote to publish to; add one "
                "(git remote add origin URL) or pass --no-push"
            )
        raise RefusedError(
            f"no git remote '{name}' (remotes: {', '.join(names)}); choose one with --remote"
        )
    return gitio.remote_url(repo_root, name)


def read_remote(repo_root: str | Path, name: str) -> RemoteState:
    """The remote's default branch and tag names, in one ``git ls-remote``."""
    url = require_remote(repo_root, name)
    try:
        listing = gitio.ls_remote(repo_root, name)
    except gitio.GitError as exc:
        raise RefusedError(f"cannot reach git remote '{name}' ({url}): {exc.detail}") from exc
    default_branch = None
    objects: dict[str, str] = {}
    heads: dict[str, str] = {}
    for line in listing.splitlines():
        if line.startswith("ref: ") and line.endswith("\tHEAD"):
            target = line[len("ref: ") : -len("\tHEAD")]
            default_branch = target.removeprefix("refs/heads/")
        else:
            sha, _, ref = line.partition("\t")
            if ref.startswith("refs/tags/") and not ref.endswith("^{}"):
                objects[ref.removeprefix("refs/tags/")] = sha
            elif ref.startswith("refs/heads/"):
                heads[ref.removeprefix("refs/heads/")] = sha
    if default_branch not in heads:
        default_branch = None  # HEAD names a branch that does not exist yet
    return RemoteState(
        name,
        default_branch,
        frozenset(objects),
        heads.get(default_branch) if default_branch else None,
        objects,
    )


def _local_tag_objects(repo_root: str | Path) -> dict[str, str]:
    out = gitio.text(gitio.tag_refs(repo_root, "%(refname:strip=2) %(objectname)"))
    return dict(line.rsplit(" ", 1) for line in out.splitlines() if " " in line)


def fetch(repo_root: str | Path, remote: RemoteState) -> None:
    """Bring the remote's tags and default branch here, unless they are here already.

    Tags are fetched without force: a local tag that differs from the remote's tag of the same
    name is never overwritten; git refuses and so does mlgate. When every remote tag already
    exists locally with the same object and the branch tip is known, nothing is fetched (a
    CI clone usually has everything; fetching 1,000 tags costs a negotiation).
    """
    local = _local_tag_objects(repo_root)
    current = all(local.get(name) == sha for name, sha in remote.tag_objects.items())
    if current and (remote.branch_sha is None or gitio.has_commit(repo_root, remote.branch_sha)):
        return
    refspecs = ["refs/tags/*:refs/tags/*"]
    if remote.default_branch:
        branch = remote.default_branch
        refspecs.append(f"+refs/heads/{branch}:refs/remotes/{remote.name}/{branch}")
    try:
        gitio.fetch(repo_root, remote.name, refspecs)
    except gitio.GitError as exc:
        rejected = [line.strip() for line in exc.stderr.splitlines() if "[rejected]" in line]
        detail = " ".join(rejected[0].split()) if rejected else exc.detail
        raise RefusedError(f"cannot fetch tags from git remote '{remote.name}': {detail}") from exc


def on_default_branch(repo_root: str | Path, remote: RemoteState, sha: str) -> bool:
    """Whether commit ``sha`` is on the remote's default branch (after ``fetch``)."""
    if remote.branch_sha is None:
        return False
    return sha == remote.branch_sha or gitio.is_ancestor(repo_root, sha, remote.branch_sha)


class Pushed(Enum):
    ACCEPTED = "accepted"  # this push created the tag on the remote
    TAKEN = "taken"  # the remote already has a tag of that name: someone published first
    # The remote already has this very tag object ("[up to date]"): someone else published
    # a byte-identical tag first. Two clones releasing one commit in the same second make
    # one (same name, commit, message, tagger and timestamp); this push created nothing.
    ALREADY = "already"
    REFUSED = "refused"  # a hook, permissions or another error


@dataclass(frozen=True)
class PushResult:
    outcome: Pushed
    detail: str = ""


def push_tag(repo_root: str | Path, remote: str, tag: str) -> PushResult:
    """Push one tag without force and say whether the remote took it."""
    try:
        pushed = gitio.push(repo_root, remote, f"refs/tags/{tag}")
    except gitio.GitError as exc:
        return PushResult(Pushed.REFUSED, exc.detail)
    if pushed is None:
        return PushResult(Pushed.REFUSED, "git reported nothing for the tag")
    if pushed.up_to_date:
        return PushResult(Pushed.ALREADY, pushed.summary)
    if pushed.rejected:
        return PushResult(Pushed.TAKEN, pushed.summary)
    if pushed.failed:
        return PushResult(Pushed.REFUSED, pushed.summary)
    return PushResult(Pushed.ACCEPTED, pushed.summary)
