"""GitHub Actions expressions (``${{ ... }}``), enough to replay mlgate's workflows locally.

Implements the documented language (https://docs.github.com/en/actions/learn-github-actions/
expressions) minus what the workflows do not use: literals (``null``, booleans, numbers,
'single-quoted' strings), context paths (``github.event.pull_request.number``,
``steps.repro.outcome``, ``a['b']``), the operators ``! == != < <= > >= && ||`` and
parentheses, and the functions ``success() failure() always() cancelled() contains()
startsWith() endsWith() format() fromJSON()``. Semantics follow GitHub's: ``&&``/``||`` return an
operand, strings compare case-insensitively, mismatched types compare as numbers, a missing
property is null. Anything else is an ``ExpressionError``, so a workflow using a feature
this replay does not know fails loudly instead of being misread.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))
      | (?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,])
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.X,
)
_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.S)


class ExpressionError(Exception):
    """An expression this evaluator cannot parse or does not support."""


@dataclass(frozen=True)
class Status:
    """The job's state as the status functions see it."""

    failed: bool = False
    cancelled: bool = False


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExpressionError(f"cannot read expression at {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan


def truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "")


def to_text(value: Any) -> str:
    """How a value is written into a string (``${{ }}`` in ``env:``, ``format()``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is type(right) and not isinstance(left, (int, float)):
        return left is right if isinstance(left, (dict, list)) else left == right
    return to_number(left) == to_number(right)


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        a, b = left.casefold(), right.casefold()
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    x, y = to_number(left), to_number(right)
    if math.isnan(x) or math.isnan(y):
        return False
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def _format(template: Any, *args: Any) -> str:
    def arg(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index >= len(args):
            raise ExpressionError(f"format(): no argument {{{index}}}")
        return to_text(args[index])

    text = to_text(template).replace("{{", "\0").replace("}}", "\1")
    return re.sub(r"\{(\d+)\}", arg, text).replace("\0", "{").replace("\1", "}")


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(_equal(item, needle) for item in haystack)
    return to_text(needle).casefold() in to_text(haystack).casefold()


def _from_json(text: Any) -> Any:
    try:
        return json.loads(to_text(text))
    except ValueError as exc:
        raise ExpressionError(f"fromJSON: not JSON: {to_text(text)[:60]!r}") from exc


class _Parser:
    def __init__(self, text: str, context: Mapping[str, Any], status: Status) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.context = context
        self.functions: dict[str, Callable[..., Any]] = {
            "success": lambda: not status.failed and not status.cancelled,
            "failure": lambda: status.failed,
            "always": lambda: True,
            "cancelled": lambda: status.cancelled,
            "contains": _contains,
            "startswith": lambda a, b: to_text(a).casefold().startswith(to_text(b).casefold()),
            "endswith": lambda a, b: to_text(a).casefold().endswith(to_text(b).casefold()),
            "format": _format,
            "fromjson": _from_json,
        }

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"expected {value or 'more'}, got {token[1] if token else 'end'}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.comparison()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.comparison()
            value = right if truthy(value) else value
        return value

    def comparison(self) -> Any:
        value = self.unary()
        token = self.peek()
        if token and token[1] in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            right = self.unary()
            if token[1] in ("==", "!="):
                return _equal(value, right) == (token[1] == "==")
            return _compare(token[1], value, right)
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return to_number(text)
        if text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind == "name":
            lowered = text.lower()
            if lowered in ("true", "false", "null"):
                return {"true": True, "false": False, "null": None}[lowered]
            if self.peek() == ("op", "("):
                return self.call(lowered)
            if text not in self.context:
                raise ExpressionError(f"unknown context '{text}'")
            return self.context[text]
        raise ExpressionError(f"unexpected {text!r}")

    def call(self, name: str) -> Any:
        if name not in self.functions:
            raise ExpressionError(f"unsupported function '{name}()'")
        self.take("(")
        args = []
        if self.peek() != ("op", ")"):
            args.append(self.or_())
            while self.peek() == ("op", ","):
                self.take()
                args.append(self.or_())
        self.take(")")
        return self.functions[name](*args)

    def postfix(self, value: Any) -> Any:
        while self.peek() in (("op", "."), ("op", "[")):
            _, op = self.take()
            if op == ".":
                key: Any = self.take()[1]
            else:
                key = self.or_()
                self.take("]")
            value = _member(value, key)
        return value


def _member(value: Any, key: Any) -> Any:
    if isinstance(value, Mapping):
        if key in value:
            return value[key]
        folded = {str(k).casefold(): v for k, v in value.items()}  # contexts ignore case
        return folded.get(to_text(key).casefold())
    if isinstance(value, list):
        number = to_number(key)
        return value[int(number)] if number.is_integer() and 0 <= number < len(value) else None
    return None


def _whole_template(text: str) -> str | None:
    """The expression when ``text`` is exactly one ``${{ ... }}`` (not ``${{ a }}/${{ b }}``)."""
    matches = list(_TEMPLATE.finditer(text.strip()))
    if len(matches) == 1 and matches[0].span() == (0, len(text.strip())):
        return matches[0].group(1)
    return None


def evaluate(text: str, context: Mapping[str, Any], status: Status | None = None) -> Any:
    """The value of one expression (the text between ``${{`` and ``}}``)."""
    return _Parser(text, context, status or Status()).parse()


def interpolate(text: Any, context: Mapping[str, Any], status: Status | None = None) -> Any:
    """A YAML value with every ``${{ expr }}`` replaced; non-strings are returned as they are."""
    if not isinstance(text, str):
        return text
    whole = _whole_template(text)
    if whole is not None and text.strip() == text:
        return evaluate(whole, context, status)
    return _TEMPLATE.sub(lambda m: to_text(evaluate(m.group(1), context, status)), text)


def condition(text: Any, context: Mapping[str, Any], status: Status) -> bool:
    """An ``if:`` value: no ``if`` means ``success()``; a condition without a status
    function is implicitly ``success() && (...)``, as on GitHub."""
    if text is None:
        return not status.failed and not status.cancelled
    if isinstance(text, bool):
        return text and not status.failed and not status.cancelled
    expression = str(text).strip()
    whole = _whole_template(expression)
    if whole is not None:
        expression = whole.strip()
    if not re.search(r"\b(success|failure|always|cancelled)\s*\(", expression):
        expression = f"success() && ({expression})"
    return truthy(evaluate(expression, context, status))
