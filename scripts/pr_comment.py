"""Post the ci run's metric report as ONE comment on its pull request (pr-report workflow).

The artifact comes from a ci run on code the pull request controls (a fork, possibly), and
this script holds a token that can write pull requests, so the artifact is data, never
code or trusted input:

- ``pr-number`` must be a decimal integer (at most 10 digits) and nothing else;
- the pull request it names must have the run's head commit (``--head-sha``, taken from the
  ``workflow_run`` event, not from the artifact) as its head, so an artifact cannot steer
  the comment to another pull request; a mismatch from a newer push is skipped quietly;
- files are opened without following symlinks, must be regular files and are read up to a
  size limit; the body is capped below GitHub's 65,536 characters and @mentions are
  defused so a report cannot ping people through the bot;
- nothing from it reaches a shell, a URL path other than the parsed integer, or ``eval``.

The comment is found by ``MARKER`` (a hidden HTML comment on the report's first line) among
comments written by the Actions bot, then updated in place; otherwise one is created.

Usage: python3 -m scripts.pr_comment --artifact-dir DIR --head-sha SHA
Exit codes: 0 posted/updated/unchanged/skipped, 1 refused (bad artifact), 2 usage or API error.
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from scripts.github_api import BOT_LOGIN, GitHub, GitHubError, Transport, by_bot, cap_body

MARKER = "<!-- mlgate-report -->"
PR_NUMBER_FILE = "pr-number"
REPORT_FILE = "report.md"
MAX_PR_NUMBER_BYTES = 32
MAX_REPORT_BYTES = 1_000_000  # read no more than this from the artifact
_PR_NUMBER_RE = re.compile(r"[1-9][0-9]{0,9}")  # used with fullmatch: "$" allows "\n"
_SHA_RE = re.compile(r"[0-9a-f]{40}")
# An @mention where GitHub would link one: '@' and a user or org/team name, after the start
# or any character but an ASCII letter, digit or '_' (html-pipeline's MentionFilter matches
# "(?:^|\W)@" in Ruby, whose \W is ASCII: 'é@team' and fullwidth 'Ａ@team' mention @team,
# where Python's \w would take 'é' as part of a word), or '`' (code, which it skips).
# 'bob@example.com' stays as it is.
_MENTION_RE = re.compile(r"(?<![A-Za-z0-9_`])@(?=[A-Za-z0-9])")


class ArtifactError(Exception):
    """The artifact is malformed or hostile: refuse, post nothing."""


def read_limited(path: Path, limit: int) -> bytes:
    """Up to ``limit`` bytes of a regular file, refusing symlinks, devices and FIFOs."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise ArtifactError(f"{path.name}: missing from the artifact") from exc
    except OSError as exc:  # ELOOP: a symlink
        raise ArtifactError(f"{path.name}: cannot be opened safely ({exc.strerror})") from exc
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ArtifactError(f"{path.name}: not a regular file")
        return handle.read(limit + 1)


def parse_pr_number(raw: bytes) -> int:
    """The pull request number: ASCII digits, optionally one trailing newline, nothing else."""
    if len(raw) > MAX_PR_NUMBER_BYTES:
        raise ArtifactError(f"{PR_NUMBER_FILE}: longer than {MAX_PR_NUMBER_BYTES} bytes")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ArtifactError(f"{PR_NUMBER_FILE}: not ASCII") from exc
    text = text[:-1] if text.endswith("\n") else text
    if not _PR_NUMBER_RE.fullmatch(text):
        # The content is not echoed: the log is not a place for attacker-chosen text.
        raise ArtifactError(f"{PR_NUMBER_FILE}: expected a positive decimal integer")
    return int(text)


def prepare_body(raw: bytes, marker: str = MARKER) -> str:
    """The comment body: the report as text, marker first, mentions defused, size capped."""
    if len(raw) > MAX_REPORT_BYTES:
        raw = raw[:MAX_REPORT_BYTES]
    text = raw.decode("utf-8", errors="replace").replace("\x00", "")
    text = _MENTION_RE.sub("@\u200b", text)
    if not text.strip():
        raise ArtifactError(f"{REPORT_FILE}: empty")
    lines = [line for line in text.splitlines() if line.strip() != marker]
    return cap_body("\n".join([marker, *lines]).rstrip() + "\n")


@dataclass(frozen=True)
class Outcome:
    action: str  # created | updated | unchanged | skipped
    pr_number: int
    comment_id: int | None = None
    reason: str = ""


def upsert_comment(
    github: GitHub, pr_number: int, body: str, marker: str = MARKER, bot: str = BOT_LOGIN
) -> Outcome:
    """Update the bot's comment carrying ``marker``, or create it."""
    for comment in github.issue_comments(pr_number):
        if by_bot(comment, bot) and marker in str(comment.get("body", "")):
            comment_id = int(comment["id"])
            if comment.get("body") == body:
                return Outcome("unchanged", pr_number, comment_id)
            github.update_comment(comment_id, body)
            return Outcome("updated", pr_number, comment_id)
    created = github.create_comment(pr_number, body)
    return Outcome("created", pr_number, int(created["id"]))


def post_report(
    github: GitHub, artifact_dir: Path, head_sha: str, marker: str = MARKER, bot: str = BOT_LOGIN
) -> Outcome:
    """Validate the artifact against the run, then create or update the one comment."""
    if not _SHA_RE.fullmatch(head_sha):
        raise GitHubError(f"--head-sha: expected 40 lowercase hex digits, got {head_sha!r}")
    if artifact_dir.is_symlink() or not artifact_dir.is_dir():
        raise ArtifactError(f"{artifact_dir}: not a directory")
    pr_number = parse_pr_number(read_limited(artifact_dir / PR_NUMBER_FILE, MAX_PR_NUMBER_BYTES))
    body = prepare_body(read_limited(artifact_dir / REPORT_FILE, MAX_REPORT_BYTES), marker)
    pull = github.pull_request(pr_number)
    pr_head = str(((pull or {}).get("head") or {}).get("sha", ""))
    if pr_head != head_sha:
        return Outcome(
            "skipped",
            pr_number,
            reason=f"pull request #{pr_number} is at {pr_head[:12] or 'unknown'}, the ci run "
            f"was for {head_sha[:12]} (superseded by a newer push, or not this run's PR)",
        )
    return upsert_comment(github, pr_number, body, marker, bot)


def main(
    argv: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    transport: Transport | None = None,
) -> int:
    parser = argparse.ArgumentParser(prog="pr_comment", description=__doc__.splitlines()[0])
    parser.add_argument("--artifact-dir", type=Path, required=True)
    parser.add_argument("--head-sha", required=True, help="workflow_run.head_sha")
    parser.add_argument("--marker", default=MARKER)
    parser.add_argument("--bot-login", default=BOT_LOGIN)
    args = parser.parse_args(argv)
    try:
        github = GitHub.from_env(env, transport)
        outcome = post_report(github, args.artifact_dir, args.head_sha, args.marker, args.bot_login)
    except ArtifactError as exc:
        print(f"::error::pr-report: refused the artifact: {exc}", file=sys.stderr)
        return 1
    except GitHubError as exc:
        print(f"::error::pr-report: {exc}", file=sys.stderr)
        return 2
    if outcome.action == "skipped":
        print(f"::warning::pr-report: not commenting: {outcome.reason}")
    else:
        print(f"pr-report: {outcome.action} comment {outcome.comment_id} on #{outcome.pr_number}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
