"""Commit what the monitor workflow's batch job learnt to the default branch (``make
monitor-record``), so that which version scored which batch, the labels received and the
monitoring history stay in git (issue 19: every decision traceable from git alone).

Only ``monitoring/`` is committed: the batch's summary (``monitoring/batches/<id>.json``, which
names the model version), the ``.dvc`` files of the prediction logs and inputs (their data
went to the DVC remote with ``make score``), the labels, the metrics, the history and
``monitoring/dvc.lock``. Anything else changed in the checkout is refused: the job commits
records, never code or params. The message ends with ``[skip ci]``: the record is not a
change to the pipeline, so no workflow runs for it.

The push goes to ``origin`` with ``GITHUB_TOKEN`` as an HTTP header for that one command (the
checkout keeps no credentials); a push that loses a race (a release tag or another record
landed first) is rebased on the new head and retried.

Usage: python -m scripts.monitor_record     (env: DEFAULT_BRANCH, GITHUB_TOKEN)
Exit codes: 0 committed and pushed (or nothing to record), 1 refused or failed.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

RECORD = "monitoring"
BOT = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")
ATTEMPTS = 3


class RecordError(Exception):
    """The record cannot be committed or pushed."""


def git(*args: str, env: Mapping[str, str] | None = None, check: bool = True) -> str:
    done = subprocess.run(
        ["git", *args], capture_output=True, text=True, check=False, env=env or None
    )
    if check and done.returncode != 0:
        raise RecordError(f"git {args[0]}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def auth_args(token: str) -> list[str]:
    """``-c`` options that send ``token`` to github.com for one command (as checkout does)."""
    if not token:
        return []
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return ["-c", f"http.https://github.com/.extraheader=AUTHORIZATION: basic {basic}"]


def outside_record(status: str) -> list[str]:
    """Changed paths (``git status --porcelain -z``) that are not under monitoring/."""
    paths = [entry[3:] for entry in status.split("\0") if len(entry) > 3]
    return sorted(p for p in paths if p != RECORD and not p.startswith(f"{RECORD}/"))


def message(root: Path) -> str:
    """``monitor: batch <id> scored by <version> [skip ci]``, from the judged metrics."""
    try:
        metrics = json.loads((root / RECORD / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        metrics = {}
    batch = metrics.get("batch", "?") if isinstance(metrics, dict) else "?"
    version = metrics.get("model_version", "?") if isinstance(metrics, dict) else "?"
    return f"monitor: batch {batch} judged, scored by {version} [skip ci]"


def record(root: Path, branch: str, token: str) -> str:
    status = git("status", "--porcelain", "-z", "--untracked-files=all")
    stray = outside_record(status)
    if stray:
        raise RecordError(
            "changes outside monitoring/ are not a monitoring record: " + ", ".join(stray[:5])
        )
    git("add", "--all", "--", RECORD)
    if not git("status", "--porcelain", "--", RECORD).strip():
        return "nothing to record"
    name, email = BOT
    text = message(root)
    git("-c", f"user.name={name}", "-c", f"user.email={email}", "commit", "-q", "-m", text)
    for attempt in range(ATTEMPTS):
        pushed = subprocess.run(
            ["git", *auth_args(token), "push", "-q", "origin", f"HEAD:refs/heads/{branch}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if pushed.returncode == 0:
            return f"{text} -> {branch}"
        if attempt + 1 < ATTEMPTS:
            git(*auth_args(token), "fetch", "-q", "origin", branch)
            git(
                "-c", f"user.name={name}", "-c", f"user.email={email}", "rebase", "-q", "FETCH_HEAD"
            )
    raise RecordError(f"push to {branch} failed: {pushed.stderr.strip()}")


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    branch = env.get("DEFAULT_BRANCH") or "main"
    try:
        print(f"monitor-record: {record(Path('.'), branch, env.get('GITHUB_TOKEN', ''))}")
    except RecordError as exc:
        print(f"::error::monitor-record: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
