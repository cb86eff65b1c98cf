"""Reading files at revisions from git objects, resolving refs, merge-base."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

import mlgate
from mlgate import gitio
from mlgate.errors import InputError


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.txt").write_text("one\n")
    (root / "sub").mkdir()
    (root / "sub" / "b.bin").write_bytes(b"\x00\n\xff")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return root


def test_read_blobs_batches_paths_and_revisions(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    (repo / "a.txt").write_text("two\n")
    git(repo, "commit", "-q", "-am", "second")
    second = git(repo, "rev-parse", "HEAD")
    blobs = gitio.read_blobs(
        repo,
        [
            (first, "a.txt"),
            (second, "a.txt"),
            (first, "sub/b.bin"),
            (first, "nope"),
            (first, "no file"),  # "<sha>:no file missing" has three words, like a found object
            (first, "sub"),
            (first, "a.txt"),
        ],
    )
    assert blobs == {
        (first, "a.txt"): b"one\n",
        (second, "a.txt"): b"two\n",
        (first, "sub/b.bin"): b"\x00\n\xff",  # binary with a newline inside is fine
        (first, "nope"): None,
        (first, "no file"): None,
        (first, "sub"): None,  # a directory is not a file
    }


def test_snapshot_reads_commit_not_disk(repo: Path) -> None:
    (repo / "a.txt").write_text("dirty\n")
    at_head = gitio.snapshot(repo, "HEAD", "")
    assert at_head.read_text("a.txt") == "one\n"
    assert gitio.Snapshot(repo).read_text("a.txt") == "dirty\n"
    assert at_head.where("a.txt").startswith("a.txt at HEAD (")


def test_prefetch_all_reads_several_commits_at_once(repo: Path) -> None:
    first = gitio.snapshot(repo, "HEAD", "")
    (repo / "a.txt").write_text("two\n")
    git(repo, "commit", "-q", "-am", "second")
    second = gitio.snapshot(repo, "HEAD", "")
    disk = gitio.Snapshot(repo)
    gitio.prefetch_all([first, second, disk], ["a.txt", "gone.txt"])
    assert first._cache == {"a.txt": b"one\n", "gone.txt": None}
    assert second._cache == {"a.txt": b"two\n", "gone.txt": None}
    assert disk._cache == {"a.txt": b"two\n", "gone.txt": None}


def test_resolve_and_errors(repo: Path, tmp_path: Path) -> None:
    assert gitio.resolve(repo, "main") == git(repo, "rev-parse", "HEAD")
    assert gitio.resolve(repo, ":/first") == git(repo, "rev-parse", "HEAD")  # by message
    git(repo, "tag", "-a", "t1", "-m", "an annotated tag")
    assert gitio.resolve(repo, "t1") == git(repo, "rev-parse", "HEAD")  # peeled to its commit
    with pytest.raises(InputError, match="unknown git ref 'HEAD:a.txt'"):  # a blob: no commit
        gitio.resolve(repo, "HEAD:a.txt")
    with pytest.raises(InputError, match="unknown git ref 'nope'"):
        gitio.resolve(repo, "nope")
    with pytest.raises(InputError, match="is not a git ref"):
        gitio.resolve(repo, "--all")
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(InputError, match="has no commits yet"):
        gitio.resolve(empty, "HEAD")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(InputError, match="not inside a git repository"):
        gitio.resolve(plain, "HEAD")


def test_merge_base_and_unrelated_histories(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "feature")
    git(repo, "commit", "-q", "--allow-empty", "-m", "f")
    assert gitio.merge_base(repo, "main", "feature") == base
    git(repo, "checkout", "-q", "--orphan", "other")
    git(repo, "commit", "-q", "--allow-empty", "-m", "o")
    assert gitio.merge_base(repo, "main", "other") is None


def test_find_project_root_and_prefix(tmp_path: Path, repo: Path) -> None:
    (repo / "proj" / ".dvc").mkdir(parents=True)
    (repo / "proj" / "deep").mkdir()
    assert gitio.find_project_root(repo / "proj" / "deep") == (repo / "proj").resolve()
    assert gitio.git_prefix(repo / "proj") == "proj/"
    with pytest.raises(InputError, match="not inside a DVC project"):
        gitio.find_project_root(tmp_path)


def test_unfetched_tags_looks_at_the_remote_releases_come_from(repo: Path) -> None:
    """Only the remote whose tags count (the branch's, else origin, else the only one, or the
    one named) makes a --no-tags setting matter; an extra remote added with --no-tags (an
    upstream, a fork) does not make this clone incomplete."""
    assert gitio.tag_remote(repo) is None and gitio.unfetched_tags(repo) is None
    git(repo, "remote", "add", "--no-tags", "upstream", "https://example.invalid/u.git")
    only = "this clone, whose remote 'upstream' is set to fetch no tags"
    assert gitio.tag_remote(repo) == "upstream" and gitio.unfetched_tags(repo) == only
    git(repo, "remote", "add", "fork", "https://example.invalid/f.git")
    assert gitio.tag_remote(repo) is None  # two remotes, neither tracked nor origin: any counts
    assert gitio.unfetched_tags(repo) == only
    git(repo, "remote", "add", "origin", "https://example.invalid/o.git")
    assert gitio.tag_remote(repo) == "origin" and gitio.unfetched_tags(repo) is None
    assert gitio.unfetched_tags(repo, "upstream") == only  # mlgate's --remote upstream
    git(repo, "config", "branch.main.remote", "upstream")  # main tracks upstream
    assert gitio.tag_remote(repo) == "upstream" and gitio.unfetched_tags(repo) == only
    git(repo, "checkout", "-q", "--detach")  # CI's detached checkout: origin again
    assert gitio.unfetched_tags(repo) is None


# What only gitio may use: the process runner, GitPython, and os's own ways to start programs.
_PROCESS_MODULES = {"subprocess", "git", "pty"}
_OS_PROCESS_CALLS = ("system", "popen", "exec", "spawn", "posix_spawn", "fork")


def _runs_processes(source: str) -> list[str]:
    """What in ``source`` imports a process runner or calls one of os's."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in _PROCESS_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in _PROCESS_MODULES:
                found.append(node.module)
            elif node.module == "os":
                names = [a.name for a in node.names]
                found += [f"os.{name}" for name in names if name.startswith(_OS_PROCESS_CALLS)]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr.startswith(_OS_PROCESS_CALLS)
        ):
            found.append(f"os.{node.attr}")
    return found


@pytest.mark.parametrize(
    "source",
    [
        "import subprocess",
        "import os, subprocess as sp",
        "from subprocess import run",
        "def f():\n    from git import Repo",
        "import git.cmd",
        "import os\nos.system('git status')",
        "from os import popen",
    ],
)
def test_the_process_scan_finds_a_runner(source: str) -> None:
    assert _runs_processes(source)


def test_only_gitio_runs_git() -> None:
    """One module makes every git call: no other module of mlgate imports subprocess or
    GitPython, or starts a program through os. The one exception is dvcadapter starting
    `python -m dvc` for DVC's experiment queue (its workers fork the process that starts
    them), and nothing else."""
    package = Path(mlgate.__file__).parent
    modules = {p.relative_to(package).as_posix(): p.read_text() for p in package.rglob("*.py")}
    assert _runs_processes(modules.pop("gitio.py"))  # the scan sees the one that does
    adapter = modules.pop("dvcadapter.py")
    assert _runs_processes(adapter) == ["subprocess"]
    calls = [
        node
        for node in ast.walk(ast.parse(adapter))
        if isinstance(node, ast.Attribute) and node.attr in ("run", "Popen", "check_output")
        and isinstance(node.value, ast.Name) and node.value.id == "subprocess"
    ]  # fmt: skip
    assert len(calls) == 1
    assert '[sys.executable, "-m", "dvc", "exp", "run", "--run-all"' in adapter
    offenders = {name: found for name, src in modules.items() if (found := _runs_processes(src))}
    assert offenders == {}


def test_push_reports_each_outcome_of_a_tag_push(repo: Path, tmp_path: Path) -> None:
    """A new tag is accepted, the same object again is up to date, another object under a
    taken name is rejected (never forced); a push git cannot attempt is a GitError with
    git's own reason, not its advice about access rights."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "tag", "-a", "m@v1.0.0", "-m", "first")
    ref = "refs/tags/m@v1.0.0"
    first = git(repo, "rev-parse", "m@v1.0.0")
    assert gitio.push(repo, "origin", ref) == gitio.PushedRef(False, False, False, "[new tag]")
    assert gitio.push(repo, "origin", ref) == gitio.PushedRef(True, False, False, "[up to date]")
    git(repo, "tag", "-d", "m@v1.0.0")
    git(repo, "tag", "-a", "m@v1.0.0", "-m", "another object, same name")
    taken = gitio.push(repo, "origin", ref)
    assert taken is not None and taken.rejected and taken.failed
    assert taken.summary.startswith("[rejected]")
    assert git(bare, "rev-parse", "m@v1.0.0") == first  # the remote's tag is untouched
    with pytest.raises(gitio.GitError, match="Remote named 'nope' didn't exist"):
        gitio.push(repo, "nope", ref)  # git would have taken 'nope' for a path
    git(repo, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    with pytest.raises(gitio.GitError) as gone:
        gitio.push(repo, "origin", ref)
    assert gone.value.detail.endswith("does not appear to be a git repository")


def test_git_error_names_the_line_that_says_why(repo: Path) -> None:
    with pytest.raises(gitio.GitError) as failed:
        gitio.git(repo, "cat-file", "-p", "nope:a.txt")
    assert str(failed.value) == f"git cat-file failed in '{repo}': {failed.value.detail}"
    assert failed.value.detail.startswith("fatal: ")
    assert gitio.failure_line("warning: x\nfatal: why\nhint: advice\n") == "fatal: why"
    assert gitio.failure_line("\nremote: hook said no\n\n") == "remote: hook said no"
    assert gitio.failure_line("") == ""
    with pytest.raises(gitio.InputError, match="cannot run git in"):
        gitio.git(repo / "a.txt", "status")  # a file, no directory to run in


def _commit_files(root: Path, files: dict[str, str], message: str) -> str:
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


@pytest.mark.parametrize("prefix", ["", "proj/"])
def test_a_traced_read_holds_for_commits_that_answer_alike(repo: Path, prefix: str) -> None:
    """What a computation asked of one commit (files read, directories listed, files named)
    is answered for every commit at once; a commit that changed something else (here the
    metrics file's numbers) answers alike, one that changed what was read, added a file of
    the name asked for or a file where a directory was listed does not."""
    project = repo / prefix
    first = _commit_files(
        project,
        {"dvc.yaml": "stages: {}\n", "params.yaml": "a: 1\n", "m/metrics.json": "{}"},
        "project",
    )
    unrelated = _commit_files(project, {"m/metrics.json": '{"x": 1}', "notes.txt": "n"}, "x")
    params = _commit_files(project, {"params.yaml": "a: 2\n"}, "params")
    nested = _commit_files(project, {"deep/dvc.yaml": "stages: {}\n"}, "nested")
    listed = _commit_files(project, {"m/other.json": "{}"}, "listed")

    traced = gitio.TracedSnapshot(project, first, "first", prefix)
    assert traced.read_text("dvc.yaml") == "stages: {}\n"
    assert traced.read_text("params.yaml") == "a: 1\n"
    assert traced.files_named("dvc.yaml") == ["dvc.yaml"]
    assert traced.files_under("m/metrics.json") == []  # a file holds no files
    assert traced.files_under("deep") == []
    assert traced.read_bytes("gone.yaml") is None
    assert traced.questions == [
        (gitio.OBJECT, "dvc.yaml"),
        (gitio.OBJECT, "params.yaml"),
        (gitio.NAMED, "dvc.yaml"),
        (gitio.DIRECTORY, "m/metrics.json"),
        (gitio.DIRECTORY, "deep"),
        (gitio.OBJECT, "gone.yaml"),
    ]
    shas = [first, unrelated, params, nested, listed]
    said = gitio.answers(project, prefix, shas, traced.questions)
    assert said[unrelated] == said[first]
    assert said[params] != said[first]  # params.yaml changed
    assert said[nested][2] == ("deep/dvc.yaml", "dvc.yaml") != said[first][2]
    assert said[nested][4] == git(project, "rev-parse", f"{nested}:{prefix}deep")  # a tree now
    assert said[first][3:] == (None, None, None)  # no directory, no directory, no file
    assert said[first][0] == f"blob {git(project, 'rev-parse', f'{first}:{prefix}dvc.yaml')}"
    odd = [(gitio.OBJECT, "m/../dvc.yaml"), (gitio.OBJECT, "./params.yaml")]
    expressions = [f"{sha}:{prefix}{path}" for sha in shas for _, path in odd]
    looked_up = gitio.object_ids(project, expressions)  # as Snapshot would read them
    said = gitio.answers(project, prefix, shas, odd)
    assert [answer for sha in shas for answer in said[sha]] == list(looked_up.values())
    whole = gitio.TracedSnapshot(project, first, "first", prefix)
    assert "notes.txt" not in whole.files()
    assert whole.questions == [(gitio.DIRECTORY, "")]  # the whole listing: the project's tree
    said = gitio.answers(project, prefix, [first, listed], whole.questions)
    assert said[first] != said[listed]


def test_several_commits_are_listed_and_read_with_one_git_process_each(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    second = _commit_files(repo, {"sub/c d.txt": "x", "é.txt": "y"}, "second")
    snaps = [gitio.Snapshot(repo, sha, sha[:8]) for sha in (first, second)]
    expected = [gitio.Snapshot(repo, sha, sha[:8]).files() for sha in (first, second)]
    gitio.fill_listings(snaps)
    assert [snap._files for snap in snaps] == expected
    assert expected[1] == ["a.txt", "sub/b.bin", "sub/c d.txt", "é.txt"]
    gitio.prefetch_each([(snaps[0], ["a.txt"]), (snaps[1], ["sub/c d.txt", "gone"])])
    assert snaps[0]._cache == {"a.txt": b"one\n"}
    assert snaps[1]._cache == {"sub/c d.txt": b"x", "gone": None}
    assert gitio.object_ids(repo, [f"{first}:gone", f"{first}:a\nb", f"{first}:sub"]) == {
        f"{first}:gone": None,
        f"{first}:a\nb": None,  # git reads one name per line: no such name
        f"{first}:sub": f"tree {git(repo, 'rev-parse', f'{first}:sub')}",
    }


@pytest.mark.parametrize("prefix", ["", "proj/"])
def test_what_one_commit_read_is_read_at_many_in_three_git_processes(
    repo: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``prefetch_like``: every file read at a model commit, read at the others (changed,
    the same, gone, a directory there) and each commit's files listed, all as a fresh
    Snapshot reads them, with three git processes whatever the number of commits."""
    files = {f"{prefix}params.yaml": "lr: 1\n", f"{prefix}dvc.lock": "same\n", "out.txt": "x"}
    shas = [_commit_files(repo, files, "model")]
    shas.append(_commit_files(repo, {f"{prefix}params.yaml": "lr: 2\n"}, "changed"))
    (repo / prefix / "dvc.lock").unlink()
    (repo / prefix / "dvc.lock").mkdir()
    (repo / prefix / "dvc.lock" / "inside").write_text("a directory now")
    shas.append(_commit_files(repo, {}, "lock is a directory"))
    git(repo, "rm", "-q", "-r", f"{prefix}dvc.lock")
    shas.append(_commit_files(repo, {}, "lock gone"))
    asked = ["params.yaml", "dvc.lock", "absent.yaml"]

    def fresh(sha: str) -> tuple[dict[str, bytes | None], list[str]]:
        snap = gitio.Snapshot(repo, sha, sha[:8], prefix)
        snap._cache = {
            path: gitio.read_blobs(repo, [(sha, prefix + path)])[(sha, prefix + path)]
            for path in asked
        }
        return snap._cache, sorted(
            p
            for p in git(repo, "ls-tree", "-r", "--name-only", "--full-tree", sha).splitlines()
            if p.startswith(prefix)
        )

    expected = {sha: fresh(sha) for sha in shas}
    gitio.Snapshot(repo, shas[0], "model", prefix).prefetch(asked)  # the model's readers
    ran: list[str] = []
    real = gitio._run
    monkeypatch.setattr(
        gitio, "_run", lambda root, args, *a: ran.append(args[0]) or real(root, args, *a)
    )
    gitio.prefetch_like(repo, prefix, shas[0], shas)
    assert len(ran) == 3
    for sha in shas[1:]:
        snap = gitio.Snapshot(repo, sha, sha[:8], prefix)
        snap.prefetch(asked)
        listed = snap.files()
        assert (snap._cache, [prefix + p for p in listed]) == expected[sha]
        assert gitio.resolve(repo, sha) == sha
    assert len(ran) == 3  # every answer came from what prefetch_like read
