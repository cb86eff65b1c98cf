"""Text tables at a terminal's width (issue 21): at 80 and 100 columns no line is wider, no
number breaks, status and value stay on a row's first line; files and pipes are not wrapped;
NO_COLOR and --no-color take the colours away on a terminal."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlgate.api import ABSENT, BaselineRef, CheckResult
from mlgate.cli import cli
from mlgate.gates import MISSING, Rule, evaluate, verdict
from mlgate.render.text import check, fill, reproduce, table, width, wrapped
from mlgate.reproduce import Difference, ReproduceResult
from tests.mlgate.repo_factory import ScratchRepo, metrics_with

NUMBER = re.compile(r"[-+]?\d[\d.,]*(?:e[-+]?\d+)?%?")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LONG_METRIC = "fairness.sex.equalized_odds_difference"


def gates_result() -> CheckResult:
    rules = [
        evaluate(Rule("roc_auc", "higher", min=0.92, max_regression=0.005), 0.8, 0.941),
        evaluate(Rule("accuracy", "higher", min=0.86), 0.87, 0.87),
        evaluate(Rule(LONG_METRIC, "lower", max=0.1), 0.2, 0.08),
        evaluate(Rule("latency.p95_ms", "lower", max=10, severity="warn"), 5, 5),
        evaluate(Rule("f1", "higher", max_regression_pct=1), 0.7, MISSING, "no release yet"),
    ]
    return CheckResult(verdict(rules), BaselineRef("demo-model@v0.2.1", "a" * 40), rules, {})


def numbers(text: str) -> Counter[str]:
    return Counter(NUMBER.findall(text))


@pytest.mark.parametrize("columns", [80, 100])
def test_check_fits_the_terminal_without_breaking_a_number(columns: int) -> None:
    unwrapped = check(gates_result())
    assert max(map(width, unwrapped.splitlines())) > 160  # so the test has work to do
    text = check(gates_result(), columns=columns)
    lines = text.splitlines()
    assert max(map(width, lines)) <= columns
    assert numbers(text) == numbers(unwrapped)  # every number whole, once as before
    assert "-0.005" in text
    value_at = lines[0].index("value")
    firsts = [line for line in lines if line.split(" ")[0] in {"PASS", "FAIL", "WARN", "SKIP"}]
    assert [line[value_at:].split()[0] for line in firsts] == ["0.8", "0.87", "0.2", "5", "0.7"]
    # a row's other lines continue its wrapping cells: nothing under status, value, change
    change_end = lines[0].index("change") + len("change")
    table_lines = text.split("\n\n")[0].splitlines()[2:]
    for line in (line for line in table_lines if line not in firsts):
        assert line[:6].strip() == "" and line[value_at:change_end].strip() == "", line
    assert LONG_METRIC not in text  # folded within its column, not spilled over the row


def test_without_columns_one_row_is_one_line() -> None:
    """A file or a pipe: the layout the golden files pin, whatever the width."""
    lines = check(gates_result()).splitlines()
    assert len(lines) == 2 + 5 + 2
    assert LONG_METRIC in lines[4]


def test_a_column_of_numbers_is_never_narrower_than_its_numbers() -> None:
    rows = [["a" * 30, "-12345.678 and words after it"]]
    lines = table(["name", "reason"], rows, columns=24, wrapping=(0, 1)).splitlines()
    assert any("-12345.678" in line for line in lines)
    assert max(map(width, lines)) <= 24


def test_wrapped_breaks_at_spaces_and_folds_only_a_longer_word() -> None:
    assert wrapped("change -0.141 vs baseline", 14) == ["change -0.141", "vs baseline"]
    assert wrapped("abcdefghij", 4) == ["abcd", "efgh", "ij"]
    assert wrapped("漢字漢字", 4) == ["漢字", "漢字"]  # by display cells


def test_fill_moves_whole_fields_and_indents_what_follows() -> None:
    line = "metrics: roc_auc 0.941  accuracy 0.87  latency.p95_ms 5"
    assert fill(line, None) == [line]
    assert fill(line, 40) == ["metrics: roc_auc 0.941  accuracy 0.87", "  latency.p95_ms 5"]


def test_reproduce_table_fits() -> None:
    differences = (
        Difference("metrics/metrics.json", LONG_METRIC, 0.068335, 0.071234),
        Difference("metrics/metrics.json", "confusion", [11676, 759, 1327, 2519], ABSENT),
    )
    result = ReproduceResult("HEAD (abc1234)", ("evaluate",), (), ("m",), (), differences)
    unwrapped = reproduce(result)
    text = reproduce(result, columns=60)
    assert max(map(width, text.splitlines())) <= 60 < max(map(width, unwrapped.splitlines()))
    assert numbers(text) == numbers(unwrapped)


# --- through the command line ------------------------------------------------------------


def released(repo: ScratchRepo) -> ScratchRepo:
    repo.release(metrics_with(roc_auc=0.95), "v1.0.0")
    repo.set_metrics(metrics_with(roc_auc=0.80))
    repo.repro()
    return repo


@pytest.mark.parametrize("columns", [80, 100])
def test_commands_fit_columns(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    released(scratch_repo)
    monkeypatch.chdir(scratch_repo.root)
    commands = [
        ["check"],
        ["history", "--metric", LONG_METRIC, "--metric", "roc_auc"],
        ["show", "v1.0.0"],
    ]
    for args in commands:
        monkeypatch.delenv("COLUMNS", raising=False)
        wide = CliRunner().invoke(cli, args).stdout
        monkeypatch.setenv("COLUMNS", str(columns))
        result = CliRunner().invoke(cli, args)
        assert result.exit_code in (0, 1), result.output
        assert max(map(width, result.stdout.splitlines())) <= columns, result.stdout
        assert numbers(result.stdout) == numbers(wide), args
    assert max(map(width, wide.splitlines())) > 80  # show's inputs and hashes: wrapped above


def _on_a_terminal(root: Path, args: list[str], env: dict[str, str]) -> str:
    """What ``mlgate`` prints with a 100-column pseudo-terminal as its stdout."""
    import fcntl
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "mlgate", *args],
        cwd=root,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(leader)
    text = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    # colorama, which dvc's logger.setup() initialises when dvc is imported, writes a reset
    # to a terminal at exit whatever the colours: not mlgate's, and it colours nothing
    return text.removesuffix("\x1b[0m")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_terminal_gets_colours_and_its_width_unless_no_color(
    scratch_repo: ScratchRepo,
) -> None:
    released(scratch_repo)
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "NO_COLOR"}}
    coloured = _on_a_terminal(scratch_repo.root, ["check"], env)
    assert "\x1b[31m" in coloured  # the failing row, in red
    assert max(width(ANSI.sub("", line)) for line in coloured.splitlines()) <= 100
    assert max(width(ANSI.sub("", line)) for line in check(gates_result()).splitlines()) > 100
    plain = _on_a_terminal(scratch_repo.root, ["check", "--no-color"], env)
    assert "\x1b[" not in plain and ANSI.sub("", coloured) == plain
    assert "\x1b[" not in _on_a_terminal(scratch_repo.root, ["check"], {**env, "NO_COLOR": "1"})


def test_release_fits_its_failed_gates_and_keeps_the_last_line(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    released(scratch_repo).commit("failing")
    monkeypatch.chdir(scratch_repo.root)
    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(cli, ["release", "--no-push"])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert max(map(width, lines)) <= 80
    assert lines[-1].startswith("no release: the gates failed for ")
