"""A metric key, param or ref from the project is never printed where GitHub Actions would
read a workflow command (issue 16, hostile input).

Actions reads every line a step prints, stdout and stderr, and runs it as a command when it
starts with '::' after whitespace, or holds '##[' anywhere (actions/runner's
ActionCommand.TryParseV2 and TryParse); a carriage return ends a line for it as a newline
does.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner, Result

from mlgate.cli import cli
from mlgate.render.json import dumps
from mlgate.render.markdown import for_logs
from mlgate.render.text import escaped
from tests.mlgate.registry_repo import chdir
from tests.mlgate.repo_factory import DEFAULT_GATES, DEFAULT_METRICS, ScratchRepo

HOSTILE = {
    "a\n::warning::x": 0.5,
    "::error::y": 0.6,
    "r\rs": 0.7,
    "##[add-mask]z": 0.8,
    "\u2028::notice::u": 0.9,
    "\x85::debug::v": 1.0,
}


def command_lines(text: str) -> list[str]:
    """Lines of ``text`` as Actions splits them (CR, LF, CRLF; Python also splits on NEL,
    U+2028 and the rest) that it would run as workflow commands."""
    return [line for line in text.splitlines() if line.lstrip().startswith("::") or "##[" in line]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("roc_auc", "roc_auc"),
        ("fairness.sex.equalized_odds_difference", "fairness.sex.equalized_odds_difference"),
        ("précision 精度 a::b #[x] ##", "précision 精度 a::b #[x] ##"),  # as it is
        ("a\n::warning::x", "a\\n::warning::x"),
        ("::error::y", "\\x3a:error::y"),
        ("  ::error::y", "  \\x3a:error::y"),
        ("\u3000::error::y", "\u3000\\x3a:error::y"),  # Unicode whitespace is trimmed too
        ("r\rs", "r\\rs"),
        ("t\tab", "t\\tab"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("x\x85y\u2028z\u2029", "x\\x85y\\u2028z\\u2029"),
        ("\x00\x7f", "\\x00\\x7f"),
        ("##[add-mask]secret", "##\\x5badd-mask]secret"),
        ("a ##[set-output name=x;]y", "a ##\\x5bset-output name=x;]y"),
    ],
)
def test_escaped_keeps_text_on_its_line_and_out_of_workflow_commands(text, shown) -> None:
    assert escaped(text) == shown
    assert escaped(shown) == shown  # and again changes nothing
    assert not command_lines(shown) and len(shown.splitlines()) <= 1


def test_json_and_markdown_defuse_the_old_command_form_and_keep_their_meaning() -> None:
    text = dumps({"##[add-mask]z": "a ##[error]b"})
    assert "##[" not in text and json.loads(text) == {"##[add-mask]z": "a ##[error]b"}
    assert for_logs("`##[add-mask]z`") == "`##\u200b[add-mask]z`"


@pytest.fixture
def hostile_repo(scratch_repo: ScratchRepo) -> ScratchRepo:
    """The scratch repository with hostile metric keys, gated, reproduced and committed."""
    # a rule names 'file:key' or a key without ':'; and YAML reads NEL as a line break
    rules = [
        {"metric": key, "direction": "higher", "min": 0.1}
        for key in HOSTILE
        if ":" not in key and "\x85" not in key
    ]
    scratch_repo.write_params(gates={**DEFAULT_GATES, "rules": DEFAULT_GATES["rules"] + rules})
    scratch_repo.set_metrics({**DEFAULT_METRICS, **HOSTILE})
    scratch_repo.repro()
    scratch_repo.commit("hostile metric names")
    return scratch_repo


def mlgate(repo: ScratchRepo, *args: str) -> Result:
    with chdir(repo.root):
        return CliRunner().invoke(cli, list(args))


def assert_safe(result: Result) -> None:
    for text in (result.stdout, result.stderr):
        assert not command_lines(text), text
        assert "\r" not in text and "\x85" not in text and "\u2028" not in text


def test_check_history_and_show_print_hostile_keys_escaped(hostile_repo: ScratchRepo) -> None:
    checked = mlgate(hostile_repo, "check")
    assert checked.exit_code == 0, checked.output  # every gate passes: exit 0
    assert_safe(checked)
    assert "r\\rs" in checked.stdout and "##\\x5badd-mask]z" in checked.stdout
    # the table stays aligned: the status column still starts every row
    rows = checked.stdout.splitlines()[2:-2]
    assert all(re.match(r"(PASS|FAIL|WARN|SKIP)  ", row) for row in rows), rows
    released = mlgate(hostile_repo, "release", "--no-push")
    assert released.exit_code == 0, released.output
    listed = mlgate(hostile_repo, "history", "--metric", "::error::y", "--metric", "r\rs")
    assert listed.exit_code == 0, listed.output
    assert_safe(listed)
    assert listed.stdout.splitlines()[0].split()[4:6] == ["\\x3a:error::y", "r\\rs"]
    shown = mlgate(hostile_repo, "show")
    assert shown.exit_code == 0, shown.output
    assert_safe(shown)
    assert "\\x85::debug::v 1" in shown.stdout


def test_an_error_naming_hostile_keys_is_one_safe_line(hostile_repo: ScratchRepo) -> None:
    nested = {"group": {"a\n::warning::x": 1, "##[add-mask]z": 2, "\r::error::w": 3}}
    hostile_repo.write_params(
        gates={"rules": [{"metric": "group", "direction": "higher", "min": 0.1}]}
    )
    hostile_repo.set_metrics({**DEFAULT_METRICS, **nested})
    hostile_repo.repro()
    result = mlgate(hostile_repo, "check")
    assert result.exit_code == 2
    assert_safe(result)
    assert result.stderr.count("\n") == 1
    assert "its keys: group.a ::warning::x, group.##\\x5badd-mask]z" in result.stderr


def test_a_usage_error_quoting_a_hostile_argument_is_safe() -> None:
    result = CliRunner().invoke(cli, ["check", "--format", "x\n::error::y ##[add-mask]z"])
    assert result.exit_code == 2
    assert_safe(result)
    assert result.stderr.count("\n") == 1
