"""What the registry names, and its files fetched the way DVC's ecosystem fetches them.

`resolve` reads the GTO-format tags with mlgate's own registry code (the version holding a
stage, or a version by name; only release tags, never a bare commit). `fetch_model` and
`fetch_reference` read one output at the release tag's commit through DVC (`dvc.api.open`
at that revision: the local cache, else the DVC remote, as `dvc artifacts get` does), check
it against the md5 that commit's dvc.lock records, and keep it under `monitoring/.cache/`
(git-ignored) so later runs read it from disk. Shared by `stages/score.py` and the
monitoring stage.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.common import StageError, removed_on_failure

DEFAULT_STAGE = "prod"
MONITORING = Path("monitoring")
CACHE = MONITORING / ".cache"  # git-ignored: what the released files are, fetched
MODELS_CACHE = CACHE / "models"
REFERENCE_CACHE = CACHE / "reference"
# The validated test split of a release: dvc.yaml's `vars` entry `paths.valid_test`.
REFERENCE_VAR = ("paths", "valid_test")
_BLOCK = 2**20


@dataclass(frozen=True)
class Release:
    """One release of an artifact, as its GTO tag names it."""

    artifact: str
    version: str  # v1.2.0
    commit: str  # the 40-hex commit the release tag points at
    tag: str  # income-model@v1.2.0


def resolve(
    stage: str | None = None, version: str | None = None, root: Path = Path(".")
) -> Release:
    """The release holding `stage` now, or the release `version`; `prod` when neither is
    given. Only release tags count: a version GTO deregistered, a tag on no commit or a
    stage tag on an unreleased commit names nothing here, as in `gto show`."""
    from mlgate.errors import MlgateError
    from mlgate.publish import artifact_in_worktree
    from mlgate.stages import assignments, current_holders
    from mlgate.tags import Version, active_releases, list_tags

    if stage is not None and version is not None:
        raise StageError(f"give a stage or a version, not both (stage {stage}, {version})")
    try:
        artifact = artifact_in_worktree(root, None)
        tags = list_tags(root)
        releases = active_releases(tags, artifact)
        if version is not None:
            wanted = Version.parse(version)
            found = next((rel for rel in releases if rel.version == wanted), None)
            if found is None:
                raise StageError(f"{artifact} has no release {wanted}")
        else:
            stage = stage or DEFAULT_STAGE
            held = current_holders(assignments(tags, artifact, releases)).get(stage)
            found = next((rel for rel in releases if rel.version == held), None)
            if found is None:
                raise StageError(f"no version holds stage '{stage}' of {artifact}")
    except MlgateError as exc:
        raise StageError(str(exc)) from exc
    return Release(artifact, str(found.version), found.sha, found.name)


def fetch_model(release: Release, root: Path = Path(".")) -> Path:
    """The release's model file (skops), fetched once into monitoring/.cache/models/."""
    path = _artifact_path(release, root)
    return _fetched(release, path, root / MODELS_CACHE / f"{release.version}.skops", root)


def fetch_reference(release: Release, root: Path = Path(".")) -> Path:
    """The validated test split of the release's commit (dvc.yaml `vars` paths.valid_test),
    fetched once into monitoring/.cache/reference/."""
    path = _reference_path(release, root)
    return _fetched(release, path, root / REFERENCE_CACHE / f"{release.version}.parquet", root)


# --- reading the release commit -------------------------------------------------------------


def _text_at(release: Release, root: Path, name: str) -> str:
    """A file of the release commit, as text."""
    from mlgate import gitio
    from mlgate.errors import MlgateError

    try:
        snap = gitio.snapshot(root, release.commit, gitio.git_prefix(root), release.tag)
        text = snap.read_text(name)
    except MlgateError as exc:
        raise StageError(str(exc)) from exc
    if text is None:
        raise StageError(f"{name} at {release.tag}: not found")
    return text


def _read_at(release: Release, root: Path, name: str) -> Any:
    """A YAML file of the release commit, parsed (bounded, as every YAML file here)."""
    from mlgate.errors import MlgateError
    from mlgate.loaders import parse_yaml

    try:
        return parse_yaml(_text_at(release, root, name), f"{name} at {release.tag}")
    except MlgateError as exc:
        raise StageError(str(exc)) from exc


def _artifact_path(release: Release, root: Path) -> str:
    dvc_yaml = _read_at(release, root, "dvc.yaml")
    spec = ((dvc_yaml or {}).get("artifacts") or {}).get(release.artifact)
    if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
        raise StageError(f"dvc.yaml at {release.tag}: no path for artifact '{release.artifact}'")
    return str(spec["path"])


def _reference_path(release: Release, root: Path) -> str:
    dvc_yaml = _read_at(release, root, "dvc.yaml")
    for entry in (dvc_yaml or {}).get("vars") or []:
        value: Any = entry
        for key in REFERENCE_VAR:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str):
            return value
    raise StageError(f"dvc.yaml at {release.tag}: no vars entry {'.'.join(REFERENCE_VAR)}")


def locked_md5(release: Release, root: Path, path: str) -> str:
    """The md5 the release commit's dvc.lock records for the output `path`."""
    from mlgate.dvcdata import parse_lock
    from mlgate.errors import MlgateError

    text = _text_at(release, root, "dvc.lock")
    try:
        found = parse_lock(text, f"dvc.lock at {release.tag}").get(path)
    except MlgateError as exc:
        raise StageError(str(exc)) from exc
    if found is None or found.kind != "out" or found.is_dir or found.hash_name != "md5":
        raise StageError(f"dvc.lock at {release.tag}: records no md5 for the output {path}")
    return found.hash


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _fetched(release: Release, path: str, target: Path, root: Path) -> Path:
    """`path` of the release commit at `target`, checked against dvc.lock's md5: from the
    cache under monitoring/ when it is there and intact, else through DVC."""
    expected = locked_md5(release, root, path)
    if target.is_file() and file_md5(target) == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    with removed_on_failure([temporary]):
        digest = _download(release, path, Path(temporary), root)
        if digest != expected:
            raise StageError(
                f"{path} at {release.tag}: fetched file has md5 {digest}, but dvc.lock "
                f"records {expected}"
            )
        os.replace(temporary, target)
    return target


def _download(release: Release, path: str, target: Path, root: Path) -> str:
    """Stream `path` at the release commit into `target` through DVC; its md5."""
    import dvc.api
    from dvc.exceptions import DvcException

    digest = hashlib.md5()
    try:
        with (
            dvc.api.open(path, repo=str(root.resolve()), rev=release.commit, mode="rb") as source,
            target.open("wb") as sink,
        ):
            while block := source.read(_BLOCK):
                digest.update(block)
                sink.write(block)
    except (DvcException, FileNotFoundError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise StageError(
            f"{path} at {release.tag}: cannot fetch through DVC (not in the local cache nor "
            f"on the DVC remote?): {detail}"
        ) from exc
    return digest.hexdigest()
