"""Talking to the git remote of a registry: read its refs, fetch its tags, push one tag.

The registry is only as safe as the remote's refusal to overwrite a tag: two clones that
pick the same next version both create it locally, only the first push wins, and the loser
must notice. ``git push`` through GitPython does not raise on a rejected ref, so
``push_tag`` reads the per-ref flags and reports what happened; the caller removes its local
tag and tries again.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from mlgate.errors import InputError, RefusedError


def git(repo_root: str | Path, *args: str, stdin: str | None = None) -> str:
    """Run git in ``repo_root``; a failure becomes an InputError with git's last stderr line."""
    done = subprocess.run(
        ["git", *args],
        cwd=repo_root,
        input=None if stdin is None else stdin.encode("utf-8"),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        detail = _last_line(done.stderr.decode("utf-8", "replace"))
        raise InputError(f"git {args[0]} failed in '{repo_root}': {detail}")
    return _text(done.stdout)


def _text(output: bytes) -> str:
    """git's output as text. Paths and ref names are bytes to git, and ``ls-files -z`` prints
    them raw: a file named in Latin-1 is not UTF-8. Such bytes are kept as os.fsdecode keeps
    them (surrogate escapes), so the name still round-trips and a message can show it."""
    return output.decode("utf-8", "surrogateescape")


def _last_line(text: str) -> str:
    """The line of git's stderr that says what went wrong: its first ``fatal:``/``error:``
    line (git follows it with generic advice such as "...and the repository exists."),
    else the last line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    reasons = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (reasons or lines or ["no message"])[0 if reasons else -1]


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
    names = git(repo_root, "remote").split()
    if name not in names:
        if not names:
            raise RefusedError(
                "the repository has no git remote to publish to; add one "
                "(git remote add origin URL) or pass --no-push"
            )
        raise RefusedError(
            f"no git remote '{name}' (remotes: {', '.join(names)}); choose one with --remote"
        )
    return git(repo_root, "remote", "get-url", name).strip()


def read_remote(repo_root: str | Path, name: str) -> RemoteState:
    """The remote's default branch and tag names, in one ``git ls-remote``."""
    url = require_remote(repo_root, name)
    done = subprocess.run(
        ["git", "ls-remote", "--symref", name], cwd=repo_root, capture_output=True, check=False
    )
    if done.returncode != 0:
        detail = _last_line(done.stderr.decode("utf-8", "replace"))
        raise RefusedError(f"cannot reach git remote '{name}' ({url}): {detail}")
    default_branch = None
    objects: dict[str, str] = {}
    heads: dict[str, str] = {}
    for line in _text(done.stdout).splitlines():
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
    out = git(repo_root, "for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/tags")
    return dict(line.rsplit(" ", 1) for line in out.splitlines() if " " in line)


def _has_commit(repo_root: str | Path, sha: str) -> bool:
    done = subprocess.run(
        ["git", "cat-file", "-e", f"{sha}^{{commit}}"], cwd=repo_root, capture_output=True
    )
    return done.returncode == 0


def fetch(repo_root: str | Path, remote: RemoteState) -> None:
    """Bring the remote's tags and default branch here, unless they are here already.

    Tags are fetched without force: a local tag that differs from the remote's tag of the same
    name is never overwritten; git refuses and so does mlgate. When every remote tag already
    exists locally with the same object and the branch tip is known, nothing is fetched (a
    CI clone usually has everything; fetching 1,000 tags costs a negotiation).
    """
    local = _local_tag_objects(repo_root)
    current = all(local.get(name) == sha for name, sha in remote.tag_objects.items())
    if current and (remote.branch_sha is None or _has_commit(repo_root, remote.branch_sha)):
        return
    refspecs = ["refs/tags/*:refs/tags/*"]
    if remote.default_branch:
        branch = remote.default_branch
        refspecs.append(f"+refs/heads/{branch}:refs/remotes/{remote.name}/{branch}")
    done = subprocess.run(
        ["git", "fetch", "--no-tags", "--no-progress", remote.name, *refspecs],
        cwd=repo_root,
        capture_output=True,
        text=True,
        errors="replace",  # git's messages quote ref names, which need not be UTF-8
        check=False,
    )
    if done.returncode != 0:
        rejected = [line.strip() for line in done.stderr.splitlines() if "[rejected]" in line]
        detail = " ".join(rejected[0].split()) if rejected else _last_line(done.stderr)
        raise RefusedError(f"cannot fetch tags from git remote '{remote.name}': {detail}")


def on_default_branch(repo_root: str | Path, remote: RemoteState, sha: str) -> bool:
    """Whether commit ``sha`` is on the remote's default branch (after ``fetch``)."""
    if remote.branch_sha is None:
        return False
    if sha == remote.branch_sha:
        return True
    done = subprocess.run(
        ["git", "merge-base", "--is-ancestor", sha, remote.branch_sha],
        cwd=repo_root,
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


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
    """Push one tag without force and say whether the remote took it.

    GitPython's ``push`` returns per-ref flags instead of raising for a rejected ref; it only
    raises when git produced no per-ref line at all (e.g. the remote cannot be reached).
    """
    from git import GitCommandError, PushInfo, Repo  # imported here: history never needs it

    refspec = f"refs/tags/{tag}:refs/tags/{tag}"
    # GitPython logs git's stderr as a warning; mlgate reports the outcome itself, once.
    logging.getLogger("git.remote").setLevel(logging.ERROR)
    try:
        with Repo(repo_root) as repo:
            infos = list(repo.remote(remote).push(refspec))
    except GitCommandError as exc:
        return PushResult(Pushed.REFUSED, _last_line(str(exc.stderr or exc)))
    except ValueError as exc:  # no such remote
        return PushResult(Pushed.REFUSED, str(exc))
    mine = [info for info in infos if info.remote_ref_string == f"refs/tags/{tag}"]
    if not mine:
        return PushResult(Pushed.REFUSED, "git reported nothing for the tag")
    info = mine[0]
    if info.flags & PushInfo.UP_TO_DATE:
        return PushResult(Pushed.ALREADY, info.summary.strip())
    if info.flags & PushInfo.REJECTED:
        return PushResult(Pushed.TAKEN, info.summary.strip())
    if info.flags & (PushInfo.REMOTE_REJECTED | PushInfo.REMOTE_FAILURE | PushInfo.ERROR):
        return PushResult(Pushed.REFUSED, info.summary.strip())
    return PushResult(Pushed.ACCEPTED, info.summary.strip())
