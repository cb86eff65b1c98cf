"""Every git call mlgate makes, and reading a project's files at a revision (no checkout).

One runner, ``git`` (bytes; ``git_text`` decodes), and one error translation: a failed git
command becomes a ``GitError`` (an InputError) naming the command and the line of git's
stderr that says why. ``git_ok`` is for commands whose failure is an answer
(``rev-parse --verify``, ``config --get``, ``merge-base --is-ancestor``).

Every read goes through git plumbing in as few processes as possible: one
``git cat-file --batch`` call reads any number of files at any number of revisions, which
keeps ``mlgate check`` and ``mlgate report`` fast. ``Snapshot`` offers the same interface
over the files on disk, so callers do not care whether they judge a commit or the working
tree.

Raw git, not GitPython: it measured faster for every call mlgate makes, and ``import git``
alone costs more than any of them saves (BENCHMARKS.md, "git layer";
``benchmarks/bench_gitio.py``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mlgate.errors import InputError

WORKTREE = "working tree"


class GitError(InputError):
    """A git command failed. ``detail`` is the line of its stderr that says why; ``stderr``
    keeps all of it for callers that word their own refusal (``mlgate.remote``)."""

    def __init__(self, repo_root: str | Path, command: str, detail: str, stderr: str = ""):
        super().__init__(f"git {command} failed in '{repo_root}': {detail}")
        self.detail = detail
        self.stderr = stderr


def failure_line(stderr: str) -> str:
    """The line of git's stderr that says what went wrong: its first ``fatal:``/``error:``
    line (git may follow it with generic advice such as "...and the repository exists."),
    else its last line; '' when it said nothing."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    reasons = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return reasons[0] if reasons else lines[-1] if lines else ""


def _run(
    repo_root: str | Path,
    args: tuple[str, ...],
    stdin: bytes | None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args], cwd=repo_root, input=stdin, env=env, capture_output=True, check=False
        )
    except OSError as exc:  # git itself missing, or repo_root gone or not a directory
        raise InputError(f"cannot run git in '{repo_root}': {exc.strerror}") from exc


def git(
    repo_root: str | Path,
    *args: str,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
) -> bytes:
    """Run one git command in ``repo_root`` and return its stdout; a failure is a GitError.
    ``env``: the whole environment of the command (None: this process's)."""
    done = _run(repo_root, args, stdin, env)
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        detail = failure_line(stderr) or f"exit code {done.returncode}"
        raise GitError(repo_root, args[0], detail, stderr)
    return done.stdout


def git_text(repo_root: str | Path, *args: str, stdin: str | None = None) -> str:
    """``git`` with text in and out (see ``text``)."""
    return text(git(repo_root, *args, stdin=None if stdin is None else stdin.encode("utf-8")))


def git_ok(repo_root: str | Path, *args: str) -> bytes | None:
    """stdout when the command succeeds, None when git says no (exits non-zero)."""
    done = _run(repo_root, args, None)
    return done.stdout if done.returncode == 0 else None


def text(output: bytes) -> str:
    """git's output as text. Paths and ref names are bytes to git, and ``ls-files -z`` prints
    them raw: a file named in Latin-1 is not UTF-8. Such bytes are kept as os.fsdecode keeps
    them (surrogate escapes), so the name still round-trips and a message can show it."""
    return output.decode("utf-8", "surrogateescape")


def _answer(output: bytes | None) -> str | None:
    """The stripped text of a one-line answer, None when git gave none."""
    return output.decode("utf-8", "replace").strip() or None if output is not None else None


def find_project_root(start: str | Path) -> Path:
    """The DVC project containing ``start``: the nearest directory with a ``.dvc/`` folder."""
    here = Path(start).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".dvc").is_dir():
            return candidate
    raise InputError(f"'{here}' is not inside a DVC project (no .dvc/ directory found)")


def git_prefix(repo_root: str | Path) -> str:
    """The path of ``repo_root`` inside its git work tree ('' at the top, else 'sub/dir/')."""
    try:
        out = git(repo_root, "rev-parse", "--show-prefix")
    except GitError as exc:
        # git's own line when it says more than that (a bad line in .git/config, a .git file
        # naming a directory that is gone)
        if "not a git repository (or any" not in exc.detail:
            raise
        raise InputError(f"'{repo_root}' is not inside a git repository") from exc
    return out.decode().strip()


def git_dir(repo_root: str | Path) -> Path:
    """The git directory of the work tree holding ``repo_root``: ``.git``, or for a linked
    worktree (``git worktree add``) its own directory inside it."""
    out = git(repo_root, "rev-parse", "--git-dir")
    return Path(repo_root) / os.fsdecode(out.strip())  # relative to repo_root, or absolute


def resolve(repo_root: str | Path, ref: str) -> str:
    """The commit sha ``ref`` names; an unknown ref or an empty repository is an InputError."""
    if not ref or ref.startswith("-"):
        raise InputError(f"'{ref}' is not a git ref")
    # ref^{commit} in one step would misread ':/message' searches (the suffix becomes part of
    # the message searched for): name the object first, then peel it to its commit.
    if ref in _COMMITS.get(str(repo_root), ()):  # a commit already known to exist
        return ref
    if ref.startswith(":/"):
        named = _rev_parse(repo_root, ref)
        commit = _rev_parse(repo_root, f"{named}^{{commit}}") if named else None
    else:
        commit = _rev_parse(repo_root, f"{ref}^{{commit}}")
    if commit:
        return commit
    if ref == "HEAD" and not has_commits(repo_root):
        raise InputError(no_commits(repo_root))
    if is_shallow(repo_root):  # most likely not fetched: CI's default checkout fetches one ref
        raise InputError(
            f"unknown git ref '{ref}' (no such branch, tag or commit in this shallow clone; "
            "fetch it, or use 'fetch-depth: 0' in actions/checkout)"
        )
    raise InputError(f"unknown git ref '{ref}' (no such branch, tag or commit)")


def _rev_parse(repo_root: str | Path, ref: str) -> str | None:
    found = git_ok(repo_root, "rev-parse", "--verify", "--quiet", "--end-of-options", ref)
    return _answer(found)


def has_commits(repo_root: str | Path) -> bool:
    if _rev_parse(repo_root, "HEAD") is None:
        # Distinguish "not a repository" (an error) from "no commits yet" (False).
        git_prefix(repo_root)
        return False
    return True


def no_commits(repo_root: str | Path) -> str:
    """Why HEAD names no commit: a repository without any, or a branch without any yet (an
    orphan branch in a repository that has commits elsewhere)."""
    if git(repo_root, "for-each-ref", "--count=1", "--format=x").strip():
        return f"'{repo_root}': the current branch has no commits yet"
    return f"'{repo_root}': the git repository has no commits yet"


def is_shallow(repo_root: str | Path) -> bool:
    """Whether the repository is a shallow clone (``git clone --depth``, CI's default
    checkout): commits beyond its depth, and tags not on what it fetched, are missing here."""
    return git(repo_root, "rev-parse", "--is-shallow-repository").strip() == b"true"


def _config(repo_root: str | Path, key: str) -> str | None:
    """One git config value, or None when it is not set."""
    return _answer(git_ok(repo_root, "config", "--get", key))


def tag_remote(repo_root: str | Path) -> str | None:
    """The remote whose tags this clone is expected to hold: the one the current branch
    tracks, else ``origin``, else the only remote; None when there is none or several
    remotes leave it open."""
    return _tag_remote(repo_root, git(repo_root, "remote").decode().split())


def _tag_remote(repo_root: str | Path, remotes: list[str]) -> str | None:
    branch = _answer(git_ok(repo_root, "symbolic-ref", "--quiet", "--short", "HEAD"))
    tracked = _config(repo_root, f"branch.{branch}.remote") if branch else None
    for name in (tracked, "origin"):
        if name in remotes:
            return name
    return remotes[0] if len(remotes) == 1 else None


def unfetched_tags(repo_root: str | Path, remote: str | None = None) -> str | None:
    """How to name this clone when tags of ``remote`` (by default ``tag_remote``) may be
    missing here, else None: a shallow clone (CI's default checkout fetches no tags), or one
    whose remote is set to fetch none (``git clone --no-tags`` sets its
    ``remote.<name>.tagOpt``). Another remote added with ``--no-tags`` (an upstream, a fork)
    says nothing about the tags of the one releases go to; when none stands out, any counts.
    A ``remote`` this clone does not have (``--remote origin``, the default, in a clone whose
    remote is named otherwise) holds no tags here: ``tag_remote`` is asked instead."""
    if is_shallow(repo_root):
        return "this shallow clone"
    remotes = git(repo_root, "remote").decode().split()
    name = remote if remote in remotes else _tag_remote(repo_root, remotes)
    for candidate in [name] if name else remotes:
        if _config(repo_root, f"remote.{candidate}.tagOpt") == "--no-tags":
            return f"this clone, whose remote '{candidate}' is set to fetch no tags"
    return None


def merge_base(repo_root: str | Path, first: str, second: str) -> str | None:
    """The best common ancestor of two commits, or None when their histories are unrelated."""
    return _answer(git_ok(repo_root, "merge-base", first, second))


def is_ancestor(repo_root: str | Path, ancestor: str, descendant: str) -> bool:
    """Whether commit ``ancestor`` is in the history of ``descendant`` (or is it)."""
    return git_ok(repo_root, "merge-base", "--is-ancestor", ancestor, descendant) is not None


def has_commit(repo_root: str | Path, sha: str) -> bool:
    """Whether the commit ``sha`` is in this clone."""
    return git_ok(repo_root, "cat-file", "-e", f"{sha}^{{commit}}") is not None


def status_lines(repo_root: str | Path) -> list[str]:
    """``git status --porcelain`` (untracked files too): one line per changed path."""
    out = git_text(repo_root, "status", "--porcelain", "--untracked-files=normal")
    return [line for line in out.splitlines() if line.strip()]


def index_entries(repo_root: str | Path) -> list[str]:
    """``git ls-files -v``: each tracked path behind its one-letter state and a space."""
    return [entry for entry in git_text(repo_root, "ls-files", "-v", "-z").split("\0") if entry]


def create_annotated_tag(repo_root: str | Path, name: str, sha: str, message: str) -> None:
    """Tag ``sha`` as ``name`` with ``message`` kept verbatim (git's default cleanup drops
    lines starting with '#'); an existing name is a GitError, never moved or overwritten."""
    git_text(repo_root, "tag", "-a", "--cleanup=verbatim", "-F", "-", name, sha, stdin=message)


def create_annotated_tag_at(
    repo_root: str | Path, name: str, sha: str, message: str, seconds: int, offset: str
) -> None:
    """``create_annotated_tag`` with the tagger date given (Unix ``seconds`` and a ``+HHMM``
    offset) instead of now: GTO orders stage events by tag time, to the second."""
    env = {**os.environ, "GIT_COMMITTER_DATE": f"@{seconds} {offset}"}
    args = ("tag", "-a", "--cleanup=verbatim", "-F", "-", name, sha)
    git(repo_root, *args, stdin=message.encode("utf-8"), env=env)


def committer_time(repo_root: str | Path) -> tuple[int, str] | None:
    """What git would date a tag made now (honouring ``GIT_COMMITTER_DATE``): Unix seconds
    and the ``+HHMM`` offset; None when git has no identity to tag with (tagging then fails
    with git's own message)."""
    ident = _answer(git_ok(repo_root, "var", "GIT_COMMITTER_IDENT"))
    if ident is None:
        return None
    seconds, offset = ident.rsplit(" ", 2)[-2:]
    return int(seconds), offset


def has_tag(repo_root: str | Path, name: str) -> bool:
    return bool(git_text(repo_root, "tag", "--list", name).strip())


def delete_tag(repo_root: str | Path, name: str) -> None:
    git_text(repo_root, "tag", "-d", name)


def remote_names(repo_root: str | Path) -> list[str]:
    return git_text(repo_root, "remote").split()


def remote_url(repo_root: str | Path, name: str) -> str:
    return git_text(repo_root, "remote", "get-url", name).strip()


def ls_remote(repo_root: str | Path, name: str) -> str:
    """``git ls-remote --symref`` of remote ``name``: its HEAD's target and every ref."""
    return git_text(repo_root, "ls-remote", "--symref", name)


def tag_refs(repo_root: str | Path, fmt: str, patterns: tuple[str, ...] = ()) -> bytes:
    """``git for-each-ref`` over every tag (or those ``patterns`` match), one record per tag
    in ``fmt``."""
    return git(repo_root, "for-each-ref", f"--format={fmt}", *(patterns or ("refs/tags",)))


def fetch(repo_root: str | Path, remote: str, refspecs: Iterable[str]) -> None:
    """Fetch ``refspecs`` from ``remote`` and no other tags; git's refusal is a GitError."""
    git(repo_root, "fetch", "--no-tags", "--no-progress", remote, *refspecs)


@dataclass(frozen=True)
class PushedRef:
    """What ``git push --porcelain`` said about one ref it pushed."""

    up_to_date: bool  # the remote has this very object under that name already
    rejected: bool  # the remote has another object under that name ("[rejected]")
    failed: bool  # "[remote rejected]" (a hook, a lock), "[remote failure]" or another error
    summary: str


_REFUSALS = ("[remote rejected]", "[remote failure]", "[no match]")
# Porcelain summaries and git's reasons in English whatever the user's locale, as GitPython
# (which pushed before) ran git.
_C_LOCALE = {"LC_ALL": "C", "LANGUAGE": "C"}


def push(repo_root: str | Path, remote: str, ref: str) -> PushedRef | None:
    """Push ``ref`` to the same name on ``remote`` without force; None when git reported
    nothing for it. A push git could not attempt (no such remote, an unreachable one) is
    a GitError. A rejected ref is no error: git flags it on its own line of
    ``--porcelain`` output (and exits 1)."""
    if remote not in remote_names(repo_root):  # git would take the name for a path or URL
        raise GitError(repo_root, "push", f"Remote named '{remote}' didn't exist")
    args = ("push", "--porcelain", "--", remote, f"{ref}:{ref}")
    done = _run(repo_root, args, None, {**os.environ, **_C_LOCALE})
    for line in text(done.stdout).splitlines():  # "<flag>\t<from>:<to>\t<summary>"
        flag, _, rest = line.partition("\t")
        from_to, _, summary = rest.partition("\t")
        if len(flag) == 1 and from_to.partition(":")[2] == ref:
            said = summary.strip()
            bracketed = said.startswith("[")
            return PushedRef(
                up_to_date=flag == "=",
                rejected=bracketed and "[rejected]" in said,
                failed=flag == "!" or (bracketed and any(r in said for r in _REFUSALS)),
                summary=said,
            )
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        raise GitError(repo_root, "push", failure_line(stderr) or f"exit code {done.returncode}")
    return None


def push_atomic(repo_root: str | Path, remote: str, refs: list[str]) -> dict[str, PushedRef]:
    """Push ``refs`` to the same names on ``remote`` without force and all or none
    (``--atomic``): what git said about each ref it reported on. As ``push``, a push git could
    not attempt is a GitError and a rejected ref is not (with ``--atomic`` the refs that
    were not themselves rejected say "[rejected] (atomic push failed)" or "[remote
    rejected] (atomic transaction failed)")."""
    if remote not in remote_names(repo_root):
        raise GitError(repo_root, "push", f"Remote named '{remote}' didn't exist")
    args = ("push", "--porcelain", "--atomic", "--", remote, *(f"{ref}:{ref}" for ref in refs))
    done = _run(repo_root, args, None, {**os.environ, **_C_LOCALE})
    found: dict[str, PushedRef] = {}
    for line in text(done.stdout).splitlines():
        flag, _, rest = line.partition("\t")
        from_to, _, summary = rest.partition("\t")
        ref = from_to.partition(":")[2]
        if len(flag) == 1 and ref in refs:
            said = summary.strip()
            bracketed = said.startswith("[")
            found[ref] = PushedRef(
                up_to_date=flag == "=",
                rejected=bracketed and "[rejected]" in said,
                failed=flag == "!" or (bracketed and any(r in said for r in _REFUSALS)),
                summary=said,
            )
    if not found and done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        raise GitError(repo_root, "push", failure_line(stderr) or f"exit code {done.returncode}")
    return found


def short(sha: str) -> str:
    return sha[:8]


def read_blobs(
    repo_root: str | Path, requests: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], bytes | None]:
    """Read ``(sha, path)`` pairs in one ``git cat-file --batch`` call; missing files map to None.

    ``path`` is relative to the git work tree's top level.
    """
    wanted = list(dict.fromkeys(requests))
    for _, path in wanted:
        if "\n" in path:
            raise InputError(f"invalid path {path!r}: contains a newline")
    found = _cat_file_batch(repo_root, [f"{sha}:{path}" for sha, path in wanted])
    return dict(zip(wanted, found, strict=True))


def _cat_file_batch(repo_root: str | Path, names: list[str]) -> list[bytes | None]:
    """The content of each object name (``<sha>:<path>``, an object id) as a blob, in one
    ``git cat-file --batch``; None for nothing, or for a tree or other object there."""
    if not names:
        return []
    out = git(repo_root, "cat-file", "--batch", stdin="".join(f"{n}\n" for n in names).encode())
    found: list[bytes | None] = []
    pos = 0
    for _ in names:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        # "<name> missing" (or "ambiguous") names the request, whose path may hold spaces;
        # a found object is "<oid> <type> <size>", followed by its contents and a newline.
        if header[-1] in (b"missing", b"ambiguous"):
            found.append(None)
            continue
        size = int(header[2])
        found.append(out[pos : pos + size] if header[1] == b"blob" else None)
        pos += size + 1
    return found


@dataclass
class Snapshot:
    """A project's files either at one commit (``sha`` set) or on disk (``sha`` None).

    Paths are relative to the DVC project root. Reads are cached and can be batched
    with ``prefetch`` so that one git process serves many files.
    """

    repo_root: Path
    sha: str | None = None
    label: str = WORKTREE
    prefix: str = ""
    _cache: dict[str, bytes | None] = field(default_factory=dict, repr=False)
    _files: list[str] | None = field(default=None, repr=False)

    @property
    def is_worktree(self) -> bool:
        return self.sha is None

    def files(self) -> list[str]:
        """Every file of the snapshot (relative to the project root), listed once: tracked at
        the commit, or tracked and untracked-but-not-ignored in the working tree."""
        if self._files is None and self.sha is not None:
            self._files = _LISTINGS.get((str(self.repo_root), self.sha, self.prefix))
        if self._files is None:
            if self.sha is None:
                args = ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]
            else:
                args = ["ls-tree", "-r", "-z", "--name-only", self.sha]
            out = git(self.repo_root, *args).decode("utf-8", "replace")
            self._files = sorted(filter(None, out.split("\0")))
        return self._files

    def prefetch(self, paths: Iterable[str]) -> None:
        missing = [p for p in dict.fromkeys(paths) if p not in self._cache]
        if not missing:
            return
        if self.sha is None:
            for path in missing:
                self._cache[path] = _read_disk(self.repo_root / path)
            return
        root = str(self.repo_root)
        for path in missing:
            known = _OBJECTS.get((root, self.sha, self.prefix + path), _UNKNOWN)
            if known is not _UNKNOWN:
                self._cache[path] = known  # type: ignore[assignment]
        missing = [p for p in missing if p not in self._cache]
        if not missing:
            return
        blobs = read_blobs(self.repo_root, [(self.sha, self.prefix + p) for p in missing])
        for path in missing:
            found = blobs[(self.sha, self.prefix + path)]
            self._cache[path] = found
            _keep_object(root, self.sha, self.prefix + path, found)

    def files_named(self, name: str) -> list[str]:
        """Paths of every file called ``name`` in the snapshot, at any depth."""
        return _named(self.files(), name)

    def files_under(self, directory: str) -> list[str]:
        """Paths of every file inside ``directory``, at any depth; empty when it is no
        directory."""
        return _under(self.files(), directory)

    def is_inside(self, path: str) -> bool:
        """Whether ``path`` names a file of the project: no ``..`` out of it, not absolute,
        and in the working tree no symlink that leads out of it."""
        if path.startswith("/") or path == ".." or path.startswith("../"):
            return False
        if self.sha is not None:
            return True
        root = Path(self.repo_root).resolve()
        return (root / path).resolve().is_relative_to(root)

    def read_bytes(self, path: str) -> bytes | None:
        self.prefetch([path])
        return self._cache[path]

    def read_text(self, path: str) -> str | None:
        data = self.read_bytes(path)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.where(path)}: not valid UTF-8 text") from exc

    def where(self, path: str) -> str:
        """How to name ``path`` in a message: 'params.yaml' or 'params.yaml at v1.0 (abc123)'."""
        return path if self.sha is None else f"{path} at {self.label}"


# --- what many commits share ---------------------------------------------------------------
# A file at a commit never changes: what a process has read is kept (up to a bound) for every
# Snapshot of that commit, and ``prefetch_like`` reads what one commit's readers asked for
# at many others in two git processes, each distinct object once (experiments share most of
# their files with the commit they were run from, and with each other).

_UNKNOWN = object()
_OBJECTS: dict[tuple[str, str, str], bytes | None] = {}  # (repo, commit, path in git)
_OBJECTS_KEPT_SIZE = 1 << 20  # larger files are read again when asked for
_OBJECTS_MAX = 100_000
_OBJECTS_MAX_BYTES = 256 << 20
_OBJECTS_BYTES = 0
_COMMITS: dict[str, set[str]] = {}  # by repository: full ids known to name commits
_LISTINGS: dict[tuple[str, str, str], list[str]] = {}  # (repo, commit, prefix): its files


def _keep_object(root: str, sha: str, path: str, data: bytes | None) -> None:
    global _OBJECTS_BYTES
    size = len(data) if data is not None else 0
    if size > _OBJECTS_KEPT_SIZE:
        return
    if len(_OBJECTS) >= _OBJECTS_MAX or _OBJECTS_BYTES + size > _OBJECTS_MAX_BYTES:
        _OBJECTS.clear()  # a bound, not a policy: what is read again is read from git
        _OBJECTS_BYTES = 0
    _OBJECTS[(root, sha, path)] = data
    _OBJECTS_BYTES += size  # shared contents count once per commit: an upper bound


def prefetch_like(repo_root: str | Path, prefix: str, model: str, shas: Iterable[str]) -> None:
    """Read at each commit of ``shas`` every file the readers of commit ``model`` have read,
    and list its project's files (both kept for ``Snapshot``), and note those commits as
    existing: one ``cat-file --batch-check`` names every object, one ``cat-file --batch``
    reads each distinct one, one ``diff-tree`` lists the distinct project trees."""
    root = str(repo_root)
    paths = [path for (where, sha, path) in list(_OBJECTS) if where == root and sha == model]
    commits = [sha for sha in dict.fromkeys(shas) if sha != model]
    if not commits:
        return
    names = [f"{sha}^{{commit}}" for sha in commits] + [f"{sha}:{prefix}" for sha in commits]
    names += [f"{sha}:{path}" for sha in commits for path in paths]
    found = object_ids(repo_root, names)
    known = _COMMITS.setdefault(root, set())
    known.update(sha for sha in commits if (found[f"{sha}^{{commit}}"] or "").startswith("commit "))
    blobs = sorted(
        {answer.split()[1] for answer in found.values() if answer and answer.startswith("blob ")}
    )
    contents = _read_objects(repo_root, blobs)
    trees = {sha: _tree_id(found[f"{sha}:{prefix}"]) for sha in commits if sha in known}
    listed = entries_in_trees(repo_root, [tree for tree in trees.values() if tree])
    for sha in commits:
        if sha not in known:
            continue
        tree = trees[sha]
        if len(_LISTINGS) >= _OBJECTS_MAX // 10:
            _LISTINGS.clear()
        _LISTINGS[(root, sha, prefix)] = sorted(
            path for path, _, _ in listed.get(tree or "", []) if tree
        )
        for path in paths:
            answer = found[f"{sha}:{path}"]
            oid = answer.split()[1] if answer and answer.startswith("blob ") else None
            _keep_object(root, sha, path, contents.get(oid) if oid else None)


def _read_objects(repo_root: str | Path, oids: list[str]) -> dict[str, bytes]:
    """The contents of these blobs (by object id), in one ``git cat-file --batch``."""
    found = _cat_file_batch(repo_root, oids)
    return {oid: data for oid, data in zip(oids, found, strict=True) if data is not None}


def files_named(snap: Snapshot, name: str) -> list[str]:
    """Paths (relative to the project root) of every file called ``name`` in the snapshot."""
    return snap.files_named(name)


def files_under(snap: Snapshot, directory: str) -> list[str]:
    """Paths of every file inside ``directory`` of the snapshot, at any depth; empty when it
    is no directory."""
    return snap.files_under(directory)


def _named(paths: Iterable[str], name: str) -> list[str]:
    return sorted({p for p in paths if p == name or p.endswith(f"/{name}")})


def _under(paths: Iterable[str], directory: str) -> list[str]:
    inside = f"{directory.rstrip('/')}/"
    return [path for path in paths if path.startswith(inside)]


def _read_disk(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def prefetch_all(snapshots: Iterable[Snapshot], paths: Iterable[str]) -> None:
    """Read the same paths at several commits with a single git process."""
    snaps = list(snapshots)
    wanted = list(dict.fromkeys(paths))
    requests = [
        (snap.sha, snap.prefix + path)
        for snap in snaps
        if snap.sha is not None
        for path in wanted
        if path not in snap._cache
    ]
    if requests:
        blobs = read_blobs(snaps[0].repo_root, requests)
        for snap in snaps:
            if snap.sha is not None:
                for path in wanted:
                    snap._cache.setdefault(path, blobs.get((snap.sha, snap.prefix + path)))
    for snap in snaps:
        if snap.sha is None:
            snap.prefetch(wanted)


def snapshot(repo_root: Path, rev: str | None, prefix: str, label: str | None = None) -> Snapshot:
    """A snapshot of ``rev`` (a ref resolved to its commit) or of the working tree (None)."""
    if rev is None:
        return Snapshot(repo_root, None, WORKTREE, prefix)
    sha = resolve(repo_root, rev)
    name = label or rev
    return Snapshot(repo_root, sha, f"{name} ({short(sha)})" if name != sha else short(sha), prefix)


# --- many commits at once --------------------------------------------------------------
# `mlgate history` reads the files of hundreds of release commits. Most of them share their
# dvc.yaml and params.yaml, so what DVC resolves from those is worked out once, on one
# commit traced as it is read, and shared with every commit whose tree answers the same
# questions (``TracedSnapshot``, ``answers``): a handful of git processes in all, instead of
# several per commit.

OBJECT = "object"  # what is at a path: a blob, a tree (a directory) or nothing
DIRECTORY = "directory"  # which directory is at a path (its tree), if any
NAMED = "named"  # which files carry a name, at any depth
Question = tuple[str, str]  # (OBJECT, DIRECTORY or NAMED; a path or a name)
# The empty tree of SHA-1 and SHA-256 repositories, by the length of their object ids.
_EMPTY_TREE = {
    40: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    64: "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321",
}


def object_ids(repo_root: str | Path, names: Iterable[str]) -> dict[str, str | None]:
    """What each object name (``<commit>:<path>``, ``<commit>^{tree}``) names, as
    ``"<type> <object id>"``, in one ``git cat-file --batch-check``; None when it names
    nothing. A name holding a newline is no object name (git reads one per line)."""
    found: dict[str, str | None] = dict.fromkeys(names)
    wanted = [name for name in found if "\n" not in name]
    if not wanted:
        return found
    stdin = "".join(f"{name}\n" for name in wanted).encode()
    out = git(repo_root, "cat-file", "--batch-check=%(objecttype) %(objectname)", stdin=stdin)
    for name, line in zip(wanted, text(out).split("\n"), strict=False):
        # "<name> missing" (or "ambiguous") for nothing: a found object ends in its id
        found[name] = None if line.endswith((" missing", " ambiguous")) else line
    return found


def entries_in_trees(
    repo_root: str | Path, trees: Iterable[str], pathspecs: Iterable[str] = (), dirs: bool = False
) -> dict[str, list[tuple[str, str, str]]]:
    """Every file of each tree (given by object id), as (path inside it, type, object id),
    in one ``git diff-tree --stdin`` against the empty tree; only those ``pathspecs`` match
    when given, and the directories on the way too with ``dirs``. Paths are decoded as
    ``Snapshot.files`` decodes them."""
    wanted = list(dict.fromkeys(trees))
    found: dict[str, list[tuple[str, str, str]]] = {tree: [] for tree in wanted}
    if not wanted:
        return found
    stdin = "".join(f"{_EMPTY_TREE.get(len(tree), '')} {tree}\n" for tree in wanted).encode()
    args = ("diff-tree", "-r", *(("-t",) if dirs else ()), "-z", "--no-renames", "--stdin")
    out = git(repo_root, *args, "--", *pathspecs, stdin=stdin)
    # Per tree: a line "<empty tree> <tree>\n", then ":<modes> <ids> A\0<path>\0" per entry.
    pos, current = 0, ""
    while pos < len(out):
        if out[pos : pos + 1] == b":":
            meta_end = out.index(b"\0", pos)
            path_end = out.index(b"\0", meta_end + 1)
            _, mode, _, oid, _ = out[pos:meta_end].decode().split()
            path = out[meta_end + 1 : path_end].decode("utf-8", "replace")
            found[current].append((path, _TYPES.get(mode, "blob"), oid))
            pos = path_end + 1
        else:
            line_end = out.index(b"\n", pos)
            current = out[pos:line_end].split()[-1].decode()
            pos = line_end + 1
    return found


_TYPES = {"040000": "tree", "160000": "commit"}  # by a tree entry's mode; the rest are blobs


def _tree_id(answer: str | None) -> str | None:
    """The id of a tree that ``object_ids`` found (None for anything else)."""
    kind, _, oid = (answer or "").partition(" ")
    return oid if kind == "tree" else None


def _glob_escaped(name: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in name)


@dataclass
class TracedSnapshot(Snapshot):
    """A ``Snapshot`` of a commit that notes every question its readers ask of the commit's
    tree: the object at a path (a file read, a directory listed, the whole listing) and the
    files carrying a name. Whatever is computed from its reads alone holds for any commit
    whose tree gives the same ``answers``: equal object ids mean equal content."""

    questions: list[Question] = field(default_factory=list, repr=False)

    def _ask(self, kind: str, arg: str) -> None:
        if (kind, arg) not in self.questions:
            self.questions.append((kind, arg))

    def read_bytes(self, path: str) -> bytes | None:
        self._ask(OBJECT, path)
        return super().read_bytes(path)

    def files(self) -> list[str]:
        self._ask(DIRECTORY, "")  # every file: the project's whole tree
        return super().files()

    def files_named(self, name: str) -> list[str]:
        self._ask(NAMED, name)
        return _named(super().files(), name)

    def files_under(self, directory: str) -> list[str]:
        # The same tree there holds the same files; no tree (a file, nothing) holds none.
        self._ask(DIRECTORY, directory)
        return _under(super().files(), directory)


def answers(
    repo_root: str | Path, prefix: str, shas: Iterable[str], questions: list[Question]
) -> dict[str, tuple[object, ...]]:
    """Each commit's answers to ``questions`` (as a ``TracedSnapshot`` noted them): the
    object at each path (``"<type> <id>"``, None for nothing), the tree at each DIRECTORY
    path (its id, None for anything else) and the paths of the files carrying each name.
    Paths are relative to the project root (``prefix`` in git). Two git processes: one
    ``cat-file --batch-check`` for each commit's project tree, one ``diff-tree`` limited to
    the paths and names asked about (a path git would not read literally, such as one with
    ``..``, is looked up as ``Snapshot`` reads it, in a third)."""
    commits = list(dict.fromkeys(shas))
    found = object_ids(repo_root, [f"{sha}:{prefix}" for sha in commits])
    trees = {sha: _tree_id(found[f"{sha}:{prefix}"]) for sha in commits}
    paths = list(dict.fromkeys(arg for kind, arg in questions if kind != NAMED and arg))
    plain = [path for path in paths if _is_plain(path)]
    names = list(dict.fromkeys(arg for kind, arg in questions if kind == NAMED))
    specs = [
        *(f":(top,literal){path}" for path in plain),
        *(f":(top,glob)**/{_glob_escaped(name)}" for name in names),
    ]
    listed = entries_in_trees(repo_root, [t for t in trees.values() if t], specs, dirs=True)
    odd = [path for path in paths if path not in plain]
    looked_up = object_ids(repo_root, [f"{sha}:{prefix}{p}" for sha in commits for p in odd])
    result: dict[str, tuple[object, ...]] = {}
    for sha in commits:
        tree = trees[sha]
        entries = listed.get(tree or "", [])
        at: dict[str, str | None] = {path: f"{kind} {oid}" for path, kind, oid in entries}
        at[""] = f"tree {tree}" if tree else None
        at.update({path: looked_up[f"{sha}:{prefix}{path}"] for path in odd})
        files = [path for path, kind, _ in entries if kind != "tree"]
        result[sha] = tuple(_answer_from(kind, arg, at, files) for kind, arg in questions)
    return result


def _answer_from(kind: str, arg: str, at: dict[str, str | None], files: list[str]) -> object:
    if kind == OBJECT:
        return at.get(arg)
    if kind == DIRECTORY:
        return _tree_id(at.get(arg))
    return tuple(_named(files, arg))


def _is_plain(path: str) -> bool:
    """Whether ``path`` names the same file to ``git diff-tree`` (a literal pathspec) as to
    ``<commit>:<path>``: relative, normalised, one line."""
    parts = path.split("/")
    return "\n" not in path and all(part not in ("", ".", "..") for part in parts)


def fill_listings(snapshots: Iterable[Snapshot]) -> None:
    """List the files of several commits' snapshots with two git processes (what
    ``Snapshot.files`` would ask one ``git ls-tree`` per commit for)."""
    snaps = [snap for snap in snapshots if snap.sha is not None and snap._files is None]
    if not snaps:
        return
    trees = object_ids(snaps[0].repo_root, [f"{snap.sha}:{snap.prefix}" for snap in snaps])
    ids = [_tree_id(trees[f"{snap.sha}:{snap.prefix}"]) for snap in snaps]
    listed = entries_in_trees(snaps[0].repo_root, [tree for tree in ids if tree])
    for snap, tree in zip(snaps, ids, strict=True):
        snap._files = sorted(path for path, _, _ in listed.get(tree or "", []))


def prefetch_each(wanted: Iterable[tuple[Snapshot, Iterable[str]]]) -> None:
    """Read different paths at different commits with a single git process."""
    pairs = [(snap, list(dict.fromkeys(paths))) for snap, paths in wanted]
    requests = [
        (snap.sha, snap.prefix + path)
        for snap, paths in pairs
        if snap.sha is not None
        for path in paths
        if path not in snap._cache
    ]
    if not requests:
        return
    blobs = read_blobs(pairs[0][0].repo_root, requests)
    for snap, paths in pairs:
        if snap.sha is not None:
            for path in paths:
                snap._cache.setdefault(path, blobs.get((snap.sha, snap.prefix + path)))
