"""`mlgate history`'s cache under .git/mlgate: a repeat run reads no tag message and resolves
no dvc.yaml, and lists exactly what a first run lists, whatever happened to the tags or to
the cache file in between."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from mlgate import history as history_module
from mlgate import kept, tagcache
from mlgate.lineage import BEGIN, END
from mlgate.tagcache import TagCache
from tests.mlgate.registry_repo import ARTIFACT, Published, metrics_with, published
from tests.mlgate.test_history import annotated

__all__ = ["published"]


def cache_file(p: Published) -> Path:
    return p.root / ".git" / tagcache.DIRECTORY / tagcache.FILE


def read_cache(p: Published) -> tuple[bytes, dict, bytes]:
    """The cache file's header line, its records and its numbers."""
    header, _, rest = cache_file(p).read_bytes().partition(b"\n")
    text, _, numbers = rest.partition(b"\n")
    return header, json.loads(text), numbers


def write_cache(p: Published, header: bytes, kept: dict, numbers: bytes, checked: bool) -> None:
    """Write the cache file with ``kept`` for its records, with the CRC-32 of what it holds
    in its header as mlgate would (``checked``) or the one it had."""
    rest = json.dumps(kept).encode() + b"\n" + numbers
    code = header.split()[-2].decode()
    cache_file(p).write_bytes((tagcache._header(code, rest) if checked else header) + b"\n" + rest)


def outputs(p: Published) -> tuple[str, str]:
    """What history prints, as a table and as JSON (each run once)."""
    text = p.mlgate("history")
    listing = p.mlgate("history", "--format", "json")
    assert text.exit_code == 0 and listing.exit_code == 0, text.output + listing.output
    return text.output, listing.output


def first_run(p: Published) -> tuple[str, str]:
    """The output of a run without any cache (a fresh clone's)."""
    cache_file(p).unlink(missing_ok=True)
    found = outputs(p)
    cache_file(p).unlink(missing_ok=True)
    return found


def spy_on_reads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The tags each read of tag messages (``list_tags``) names from now on (None: all)."""
    read: list[object] = []
    real = tagcache.list_tags

    def spy(*args: object, **kwargs: object) -> object:
        read.append(args[2] if len(args) > 2 else kwargs.get("names"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tagcache, "list_tags", spy)
    return read


def nothing_read_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make reading a tag message or resolving a dvc.yaml fail the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("read although cached")

    monkeypatch.setattr(tagcache, "list_tags", refuse)
    monkeypatch.setattr(history_module, "_declared_files", refuse)


@pytest.fixture
def registry(published: Published) -> Published:
    """A release by mlgate (lineage), two by another tool (metrics in the committed files),
    one of them promoted, and a tag that is no release."""
    p = published
    assert p.mlgate("release").exit_code == 0  # demo-model@v0.0.1, lineage
    for version, accuracy in (("v0.0.2", 0.81), ("v0.0.3", 0.82)):
        p.repo.set_committed_metrics(metrics_with(accuracy=accuracy))
        p.repo.commit(f"model {version}")
        annotated(p, f"{ARTIFACT}@{version}", f"Registering artifact {ARTIFACT} version {version}")
    annotated(p, f"{ARTIFACT}#prod#1", "Assigning stage prod to artifact version v0.0.3")
    p.repo.git("tag", "lightweight")
    return p


def test_a_repeat_run_reads_no_tag_message_and_lists_the_same(
    registry: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = registry
    expected = first_run(p)
    assert outputs(p) == expected  # writes the cache
    header, kept, _ = read_cache(p)
    assert header.startswith(tagcache.FORMAT.encode()) and len(kept["tags"]) == 5
    assert len(kept["commits"]) == 2  # the two releases without lineage
    nothing_read_afresh(monkeypatch)
    assert outputs(p) == expected


def test_a_new_moved_or_deleted_tag_is_listed_as_without_the_cache(
    registry: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = registry
    outputs(p)
    p.repo.git("tag", "-d", f"{ARTIFACT}@v0.0.2")
    p.repo.git("tag", "-f", "-a", f"{ARTIFACT}@v0.0.3", "-m", "moved", "HEAD~2")
    p.repo.set_committed_metrics(metrics_with(accuracy=0.7))
    p.repo.commit("model v0.0.4")
    annotated(p, f"{ARTIFACT}@v0.0.4", "Registering artifact demo-model version v0.0.4")
    with monkeypatch.context() as patched:
        read = spy_on_reads(patched)
        warm = outputs(p)
    assert read == [[f"{ARTIFACT}@v0.0.3", f"{ARTIFACT}@v0.0.4"]]
    kept = read_cache(p)[1]["tags"]
    assert set(kept) == set(
        p.repo.git("for-each-ref", "--format=%(objectname)", "refs/tags").split()
    )
    assert warm == first_run(p)
    versions = [entry["version"] for entry in json.loads(warm[1])]
    assert versions == ["v0.0.4", "v0.0.3", "v0.0.1"]


def test_a_block_damaged_after_caching_is_reported_as_without_the_cache(
    registry: Published,
) -> None:
    p = registry
    outputs(p)
    message = subprocess.run(
        ["git", "for-each-ref", "--format=%(contents)", f"refs/tags/{ARTIFACT}@v0.0.1"],
        cwd=p.root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    damaged = message.replace('"accuracy": 0.87', '"accuracy": 0.99')
    assert damaged != message
    sha = p.repo.git("rev-parse", f"{ARTIFACT}@v0.0.1^{{commit}}")
    p.repo.git("tag", "-d", f"{ARTIFACT}@v0.0.1")
    subprocess.run(
        ["git", "tag", "-a", "--cleanup=verbatim", "-F", "-", f"{ARTIFACT}@v0.0.1", sha],
        cwd=p.root,
        input=damaged,
        text=True,
        check=True,
    )
    warm = outputs(p)
    assert warm == first_run(p)
    entry = json.loads(warm[1])[-1]
    assert entry["lineage"] == "corrupt" and "checksum mismatch" in entry["problem"]


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xff not json",
        b'{"format": "mlgate history cache 0"}',
        b"[]",
    ],
)
def test_a_corrupt_or_foreign_cache_file_is_ignored_and_rewritten(
    registry: Published, content: bytes
) -> None:
    p = registry
    expected = first_run(p)
    cache_file(p).parent.mkdir(exist_ok=True)
    cache_file(p).write_bytes(content)
    assert outputs(p) == expected
    assert read_cache(p)[0].startswith(tagcache.FORMAT.encode())


DAMAGES = {
    "not a list": lambda record: "x",
    "too short": lambda record: record[:5],
    "no such status": lambda record: [*record[:6], "no such status", *record[7:]],
    "no such metric names": lambda record: [*record[:10], 99, record[11]],
    "numbers beyond the end": lambda record: [*record[:11], 10**6],
    "no numbers at all": lambda record: [*record[:11], -1],
    "a number for the commit": lambda record: [*record[:8], 7, *record[9:]],
    "a number for the date": lambda record: [*record[:3], 7, *record[4:]],
}


@pytest.mark.parametrize("rewrite_checksum", [False, True])
@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_cache_is_read_afresh(
    registry: Published, damage: str, rewrite_checksum: bool
) -> None:
    """A record changed after it was written is caught by the file's checksum; one of the
    wrong shape written with a valid checksum (a bug) by the checks of each record."""
    p = registry
    expected = first_run(p)
    outputs(p)
    header, kept, numbers = read_cache(p)
    oid = p.repo.git("rev-parse", f"{ARTIFACT}@v0.0.1")  # the release with a lineage block
    assert kept["tags"][oid][6] == "ok"
    kept["tags"][oid] = DAMAGES[damage](kept["tags"][oid])
    kept["commits"] = {sha: [99, start] for sha, (_, start) in kept["commits"].items()}
    write_cache(p, header, kept, numbers, checked=rewrite_checksum)
    assert outputs(p) == expected


def test_the_cache_of_other_code_is_not_read(
    registry: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = registry
    expected = first_run(p)
    outputs(p)
    monkeypatch.setattr(tagcache, "_code_key", lambda: "another")
    read = spy_on_reads(monkeypatch)
    assert outputs(p) == expected
    assert read == [None]  # the first of the two runs read every tag afresh
    assert read_cache(p)[0].split()[-2] == b"another"


def test_where_the_cache_cannot_be_written_history_works_without_it(
    registry: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = registry
    expected = first_run(p)
    cache_file(p).parent.mkdir(exist_ok=True)
    cache_file(p).parent.chmod(0o500)  # read-only (root writes anyway: see below)
    try:
        assert outputs(p) == expected
    finally:
        cache_file(p).parent.chmod(0o700)
    cache_file(p).unlink(missing_ok=True)
    cache_file(p).parent.rmdir()
    cache_file(p).parent.write_text("a file where the directory would be")
    assert outputs(p) == expected

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    cache_file(p).parent.unlink()
    monkeypatch.setattr(kept.os, "replace", full_disk)
    assert outputs(p) == expected
    assert list(cache_file(p).parent.iterdir()) == []  # no temporary file left behind


def test_a_long_stage_message_is_read_whenever_it_is_needed(
    registry: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = registry
    long = "Assigning stage dev\n\n" + "x" * (tagcache.MESSAGE_LIMIT + 1)
    annotated(p, f"{ARTIFACT}#dev#2", long)
    expected = first_run(p)
    outputs(p)
    read = spy_on_reads(monkeypatch)
    assert outputs(p) == expected
    assert read == [[f"{ARTIFACT}#dev#2"]] * 2
    assert json.loads(expected[1])[0]["stages"] == ["dev", "prod"]


def test_metrics_read_from_outside_git_are_not_kept(registry: Published) -> None:
    """A release whose metrics file is not committed: what it lists may change once the file
    is fetched (from DVC's cache), so only what git holds is kept."""
    p = registry
    p.repo.git("rm", "-q", "metrics/metrics.json")
    p.repo.commit("metrics no longer in git")
    annotated(p, f"{ARTIFACT}@v0.0.5", "Registering artifact demo-model version v0.0.5")
    sha = p.repo.git("rev-parse", "HEAD")
    outputs(p)
    cache = TagCache(p.root)
    assert cache.commit_metrics(sha) is None
    assert cache.commit_metrics(p.repo.git("rev-parse", f"{ARTIFACT}@v0.0.3^{{commit}}"))


def test_a_tag_listing_from_the_cache_is_the_listing_git_gives(registry: Published) -> None:
    from mlgate.tags import list_tags

    p = registry
    long = f"Release\n\n{BEGIN}\n{{}}\n{END}\n" + "x" * tagcache.MESSAGE_LIMIT
    annotated(p, "elsewhere@v1.0.0", long)
    outputs(p)
    cached = TagCache(p.root).tags()
    read = list_tags(p.root, with_messages=True)
    assert [tag.name for tag in cached] == [tag.name for tag in read]
    for mine, gits in zip(cached, read, strict=True):
        too_long = len(gits.message) > tagcache.MESSAGE_LIMIT
        assert mine == (dataclasses.replace(gits, message="") if too_long else gits)
    assert any(len(tag.message) > tagcache.MESSAGE_LIMIT for tag in read)


def test_each_worktree_keeps_its_own_cache(registry: Published, tmp_path: Path) -> None:
    """Worktrees share the tags but may run different code (a cache of other code is not
    read): each keeps its cache in its own git directory, so they do not take turns
    rewriting one."""
    p = registry
    expected = first_run(p)
    outputs(p)
    linked = tmp_path / "linked"
    p.repo.git("worktree", "add", "-q", "--detach", str(linked))
    listing = p.mlgate("history", cwd=linked)
    assert listing.exit_code == 0 and listing.output == expected[0]
    own = Path(p.repo.git("-C", str(linked), "rev-parse", "--absolute-git-dir"))
    assert own != p.root / ".git" and (own / tagcache.DIRECTORY / tagcache.FILE).is_file()


def test_a_tag_name_that_is_not_utf8_is_read_with_every_tag(
    registry: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git gives such a name with a replacement character, which cannot name the ref back:
    the cache reads every tag afresh rather than that one by name."""
    p = registry
    name = b"old-\xff-model@v1.0.0"
    subprocess.run([b"git", b"tag", b"-a", b"-m", b"legacy", name], cwd=p.root, check=True)
    expected = first_run(p)
    outputs(p)
    read = spy_on_reads(monkeypatch)
    assert outputs(p) == expected and read == []
    subprocess.run([b"git", b"tag", b"-f", b"-a", b"-m", b"moved", name], cwd=p.root, check=True)
    assert outputs(p) == expected
    assert read == [None]
