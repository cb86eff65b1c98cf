"""The one loader for the files mlgate and the stages read: YAML, JSON and TOML, bounded.

``parse_yaml`` is PyYAML's libyaml parser with YAML 1.2's scalar rules
(``tests/mlgate/test_yaml12.py`` pins it to ruamel's safe loader, which DVC uses): 2-2.6x
faster than DVC's own ``parse_yaml`` on this repository's files (BENCHMARKS.md, "YAML"),
and ruamel crashes the interpreter (a segmentation fault) on ~50,000-deep nesting.
Every parse is bounded (``MAX_DEPTH``, ``MAX_VALUES``) so hostile input (an alias bomb, a
document nested 100,000 deep) is a one-line error, never a traceback. The vars files DVC's
resolver reads pass through that loader, with its limits, before DVC parses them itself.
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any, ClassVar

import yaml

from mlgate.errors import ConfigError, InputError

# Limits on any parsed file (see the module docstring): a config or metrics file nested
# deeper than this is hostile or broken, and deeper values overflow Python's recursion in
# flattening and in DVC's template context.
MAX_DEPTH = 100
# Values a YAML document may hold once its aliases are expanded: a "billion laughs" alias
# bomb of under 1 KB expands to 10**9; this repository's dvc.lock holds about 2,500.
MAX_VALUES = 1_000_000


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's when present) reading plain scalars as YAML 1.2
    does, which is how DVC reads every file (ruamel's safe loader): ``010`` is 10, ``0o17``
    is 15, ``1e-5`` a float, while ``1:30``, ``on`` and ``NO`` stay text. YAML 1.1's rules
    would show a gate, a param or a metric another value than ``dvc params diff`` and
    ``dvc metrics show`` do."""

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


class _TooLarge(ValueError):
    """A document beyond ``MAX_DEPTH`` or ``MAX_VALUES``, with the reason."""


def _check_nodes(root: yaml.Node) -> None:
    """Refuse a composed YAML document nested deeper than ``MAX_DEPTH`` or holding more than
    ``MAX_VALUES`` values once its aliases are expanded (an alias is the same node reached
    again, so it is counted again; an alias inside its own anchor nests without end).
    Level by level, not recursive: the check must not itself overflow the stack."""
    level = [root]
    depth = values = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise _TooLarge(f"nested deeper than {MAX_DEPTH} levels")
        values += len(level)
        deeper: list[yaml.Node] = []
        for node in level:
            if isinstance(node, yaml.SequenceNode):
                deeper.extend(node.value)
            elif isinstance(node, yaml.MappingNode):
                for pair in node.value:
                    deeper.extend(pair)
            else:
                continue
            if values + len(deeper) > MAX_VALUES:
                raise _TooLarge(f"aliases expand to more than {MAX_VALUES:,} values")
        level = deeper


def _check_depth(data: Any) -> None:
    """Refuse parsed JSON or TOML nested deeper than ``MAX_DEPTH`` (iteratively)."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise _TooLarge(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            pending.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list):
            pending.extend((child, depth + 1) for child in value)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text (within ``MAX_DEPTH`` and ``MAX_VALUES``), naming the source in the
    error."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = str(getattr(exc, "problem", ""))
        what = problem if problem.startswith("duplicate key") else "malformed YAML"
        raise ConfigError(f"{source}: {what}{where}") from exc
    except _TooLarge as exc:
        raise ConfigError(f"{source}: malformed YAML ({exc})") from exc
    except ValueError as exc:  # a value the constructor refuses: an integer with more digits
        # than Python converts (4,300 by default), or an impossible date such as 2024-13-01
        raise ConfigError(f"{source}: malformed YAML ({unreadable_value(exc)})") from exc
    finally:
        loader.dispose()


def unreadable_value(exc: ValueError) -> str:
    """Python's reason for refusing a value, without its advice to the programmer
    ('...; use sys.set_int_max_str_digits() to increase the limit')."""
    return str(exc).split(";")[0]


def parse_structured(text: str, path: str, where: str) -> Any:
    """Parse a metrics or params file by its extension (JSON, YAML or TOML); bad or
    hostile content is an InputError naming ``where``."""
    kind = {".json": "JSON", ".toml": "TOML"}.get(posixpath.splitext(path)[1].lower())
    if kind is None:
        try:
            return parse_yaml(text, where)
        except ConfigError as exc:
            raise InputError(str(exc)) from exc
    try:
        data = json.loads(text) if kind == "JSON" else _toml_loads(text, where)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: malformed JSON (line {exc.lineno}: {exc.msg})") from exc
    except ValueError as exc:  # TOML's own error, or an integer with more digits than Python
        # converts
        reason = str(exc) if type(exc).__name__ == "TOMLDecodeError" else unreadable_value(exc)
        raise InputError(f"{where}: malformed {kind} ({reason})") from exc
    except RecursionError as exc:  # json's C scanner and tomllib recurse once per level
        raise InputError(f"{where}: malformed {kind} (nested too deep)") from exc
    return _bounded(data, where, kind)


def _toml_loads(text: str, where: str) -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10 without tomllib
        raise InputError(f"{where}: TOML needs Python 3.11 or newer") from None
    return tomllib.loads(text)


def _bounded(data: Any, where: str, kind: str) -> Any:
    try:
        _check_depth(data)
    except _TooLarge as exc:
        raise InputError(f"{where}: malformed {kind} ({exc})") from exc
    return data
