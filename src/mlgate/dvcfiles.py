"""What a DVC project declares as artifacts, and choosing the one to release.

The YAML loader these files are read with lives in ``mlgate.dvcadapter`` (the one adapter
to DVC's formats).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgate.dvcadapter import DVC_YAML
from mlgate.errors import ConfigError, InputError
from mlgate.tags import ARTIFACT_NAME_RE


def artifacts(dvc_yaml: dict[str, Any] | None, source: str = DVC_YAML) -> dict[str, dict[str, Any]]:
    """The ``artifacts:`` section of a parsed dvc.yaml."""
    section = (dvc_yaml or {}).get("artifacts") or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: 'artifacts' must be a mapping of name to spec")
    for name, spec in section.items():
        if spec is not None and not isinstance(spec, dict):
            raise ConfigError(
                f"{source}: artifact '{name}' must be a mapping (type, path, ...), "
                f"got {type(spec).__name__}"
            )
    return {str(name): dict(spec or {}) for name, spec in section.items()}


def artifact_name(requested: str) -> str:
    """An artifact's name as GTO writes it: DVC's ``sub/dvc.yaml:name`` is ``sub:name``."""
    return requested.replace(f"/{DVC_YAML}:", ":")


def choose_artifact(declared: dict[str, dict[str, Any]], requested: str | None = None) -> str:
    """The artifact to act on, out of every artifact the project declares (by full name, see
    metrics.declared_artifacts): the one requested (``sub/dvc.yaml:name`` is DVC's spelling
    of ``sub:name``), else the only one of the first group that has any: the root
    dvc.yaml's models (DVC looks there by default), every dvc.yaml's models, the root's
    artifacts, every artifact. A release is of a model, so a nested model goes before a root
    artifact of another type (a dataset)."""
    if requested is not None:
        name = artifact_name(requested)
        if name not in declared:
            names = ", ".join(sorted(declared)) or "none"
            raise ConfigError(f"{DVC_YAML}: no artifact '{requested}' (declared: {names})")
        return _taggable(name)
    root = [name for name in declared if ":" not in name]
    models = [name for name, spec in declared.items() if spec.get("type") == "model"]
    groups = ([name for name in models if name in root], models, root, list(declared))
    candidates = next((group for group in groups if group), [])
    if len(candidates) == 1:
        return _taggable(candidates[0])
    if not candidates:
        raise ConfigError(f"{DVC_YAML}: declares no artifacts; add one under 'artifacts:'")
    raise ConfigError(
        f"{DVC_YAML}: several artifacts ({', '.join(sorted(candidates))}); "
        "choose one with --artifact"
    )


def _taggable(name: str) -> str:
    """``name``, if GTO can write it in a tag (DVC only warns about the others: "Can't use
    ... as artifact name"); tags under another name would be invisible to GTO, DVC and
    mlgate itself, so a release could be made again and again."""
    if not ARTIFACT_NAME_RE.match(name):
        raise ConfigError(
            f"{DVC_YAML}: artifact '{name}' cannot be released: GTO's artifact names hold "
            "lowercase letters, digits, '-' and '/', starting and ending with a letter or digit"
        )
    return name


def read_text_file(path: Path) -> str | None:
    """A UTF-8 text file on disk, or None when it does not exist; a file that exists but
    cannot be read (a directory, not UTF-8, no permission) is an InputError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 text") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
