"""Reading what a DVC project declares: artifacts (and, later, metrics, params, lock)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import yaml

from mlgate.errors import ConfigError, InputError
from mlgate.tags import ARTIFACT_NAME_RE

DVC_YAML = "dvc.yaml"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's when present: ~2.5x faster on dvc.lock than ruamel)
    reading plain scalars as YAML 1.2 does, which is how DVC reads every file (ruamel's safe
    loader): ``010`` is 10, ``0o17`` is 15, ``1e-5`` a float, while ``1:30``, ``on`` and
    ``NO`` stay text. YAML 1.1's rules would show a gate, a param or a metric another value
    than ``dvc params diff`` and ``dvc metrics show`` do. tests/mlgate/test_yaml12.py pins
    this loader to ruamel's."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {}


# ruamel.yaml's YAML 1.2 implicit resolvers (ruamel/yaml/resolver.py), in its order
_RESOLVERS_12 = [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (
        "float",
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        "-+0123456789.",
    ),
    (
        "int",
        r"""^(?:[-+]?0b[0-1_]+
        |[-+]?0o?[0-7_]+
        |[-+]?[0-9_]+
        |[-+]?0x[0-9a-fA-F_]+)$""",
        "-+0123456789",
    ),
    ("merge", r"^(?:<<)$", "<"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (
        "timestamp",
        r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
        (?:[Tt]|[\ \t]+)[0-9][0-9]?
        :[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
        (?:[\ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
        "0123456789",
    ),
]
for _kind, _pattern, _first in _RESOLVERS_12:
    _Loader.add_implicit_resolver(
        f"tag:yaml.org,2002:{_kind}", re.compile(_pattern, re.X), list(_first)
    )


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """A YAML 1.2 integer: ``0o`` octal, ``0x`` hex, ``0b`` binary, else decimal (a leading
    zero is no octal), underscores ignored, as ruamel reads them."""
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if text[:1] == "-" else 1
    digits = text.lstrip("+-")
    for prefix, base in (("0o", 8), ("0x", 16), ("0b", 2)):
        if digits.startswith(prefix):
            return sign * int(digits[2:], base)
    return sign * int(digits)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _construct_mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> Any:
    """A mapping, refusing a key written twice as ruamel (so DVC) does; PyYAML keeps the
    last one silently (``baseline: none`` then ``baseline: latest-release``)."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # '<<' merges may override, by design
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (str, int, float, bool)) or key is None:
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
    return yaml.constructor.SafeConstructor.construct_mapping(loader, node, deep=deep)


_Loader.construct_mapping = _construct_mapping


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text, naming the source in the error."""
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = str(getattr(exc, "problem", ""))
        what = problem if problem.startswith("duplicate key") else "malformed YAML"
        raise ConfigError(f"{source}: {what}{where}") from exc
    except ValueError as exc:  # a value the constructor refuses: an integer with more digits
        # than Python converts (4,300 by default), or an impossible date such as 2024-13-01
        raise ConfigError(f"{source}: malformed YAML ({unreadable_value(exc)})") from exc


def unreadable_value(exc: ValueError) -> str:
    """Python's reason for refusing a value, without its advice to the programmer
    ('...; use sys.set_int_max_str_digits() to increase the limit')."""
    return str(exc).split(";")[0]


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
