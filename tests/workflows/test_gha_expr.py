"""scripts/gha_expr.py: the expression subset the local replay evaluates, GitHub's semantics."""

from __future__ import annotations

import pytest

from scripts.gha_expr import ExpressionError, Status, condition, evaluate, interpolate

CONTEXT = {
    "github": {
        "event_name": "pull_request",
        "event": {"pull_request": {"number": 7, "base": {"sha": "abc"}}, "labels": ["a", "B"]},
        "ref": "refs/heads/main",
        "repository": {"default_branch": "main"},
    },
    "steps": {"repro": {"outcome": "success"}, "gates": {"outcome": "failure"}},
    "runner": {"temp": "/tmp/r"},
    "secrets": {"TOKEN": "s3cret"},
    "inputs": {"source": ""},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("github.event_name == 'pull_request'", True),
        ("github.event_name == 'PULL_REQUEST'", True),  # strings compare case-insensitively
        ("github.event_name != 'push'", True),
        ("github.event.pull_request.number", 7),
        ("github.event.pull_request.number == '7'", True),  # mixed types compare as numbers
        ("github.event['pull_request'].base.sha", "abc"),
        ("github.event.missing.deeper", None),
        ("steps.repro.outcome == 'success' && steps.gates.outcome", "failure"),
        ("inputs.source || 'default'", "default"),
        ("!inputs.source", True),
        ("!(1 == 1)", False),
        ("1 < 2 && 'b' > 'A'", True),
        ("null == 0", True),
        ("contains(github.event.labels, 'b')", True),
        ("contains('Hello', 'ELL')", True),
        ("startsWith(github.ref, 'refs/heads/')", True),
        ("endsWith(github.ref, '/main')", True),
        ("format('refs/heads/{0}', github.repository.default_branch)", "refs/heads/main"),
        ("github.ref == format('refs/heads/{0}', github.repository.default_branch)", True),
        ("format('{{literal}} {0}', 1)", "{literal} 1"),
        ("'it''s'", "it's"),
        ("0x10 == 16", True),
        ("true && false || true", True),
    ],
)
def test_evaluate(expression: str, expected: object) -> None:
    assert evaluate(expression, CONTEXT) == expected


@pytest.mark.parametrize(
    "expression",
    ["unknown.thing", "toJSON(github)", "github.event_name ==", "(1", "1 2", "'open", "a ^ b"],
)
def test_unsupported_or_broken_expressions_fail_loudly(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression, CONTEXT)


def test_interpolate_keeps_types_for_whole_values_and_writes_text_otherwise() -> None:
    assert interpolate("${{ github.event.pull_request.number }}", CONTEXT) == 7
    assert interpolate("${{ runner.temp }}/pr-report", CONTEXT) == "/tmp/r/pr-report"
    assert interpolate("pr-${{ github.event.pull_request.number }}-${{ true }}", CONTEXT) == (
        "pr-7-true"
    )
    assert interpolate("${{ runner.temp }}/${{ github.event_name }}", CONTEXT) == (
        "/tmp/r/pull_request"
    )
    assert interpolate("${{ inputs.source || secrets.MISSING }}", CONTEXT) is None
    assert interpolate(0, CONTEXT) == 0
    assert interpolate("no expression", CONTEXT) == "no expression"


@pytest.mark.parametrize(
    ("text", "status", "expected"),
    [
        (None, Status(), True),
        (None, Status(failed=True), False),
        ("github.event_name == 'pull_request'", Status(failed=True), False),  # implicit success()
        ("${{ failure() && steps.gates.outcome == 'failure' }}", Status(failed=True), True),
        ("${{ failure() && steps.gates.outcome == 'failure' }}", Status(), False),
        ("${{ !cancelled() && steps.repro.outcome == 'success' }}", Status(failed=True), True),
        ("${{ !cancelled() }}", Status(cancelled=True), False),
        ("always()", Status(failed=True), True),
        (False, Status(), False),
    ],
)
def test_condition(text: object, status: Status, expected: bool) -> None:
    assert condition(text, CONTEXT, status) is expected
