"""Pull or push pipeline outputs through the DVC remote named by ``DVC_REMOTE_URL``.

The workflows pass ``DVC_REMOTE_URL`` (and the storage's credentials, e.g.
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, and ``DVC_REMOTE_ENDPOINT_URL`` for an
S3-compatible service) from repository secrets. When it is empty
(no remote configured, or a pull request from a fork, which gets no secrets) both commands
say so and succeed: ci then reproduces everything from scratch. The remote is added to
``.dvc/config.local`` only, so nothing in the checkout changes, and the DVC plugin for the
URL's scheme (dvc-s3, dvc-gs, ...) is installed on demand.

``pull`` is best effort (whatever it cannot fetch, ``dvc repro`` rebuilds); ``push`` must
succeed, since a release whose model is not in the remote cannot be fetched by anyone.

``pull-batch [ID]`` is the monitor workflow's batch job: it configures the remote (the
scoring step pushes through it) and pulls only what DVC tracks of the scored batch ``ID``
(its prediction log, inputs and quarantine, ``monitoring/<kind>/<ID>.parquet.dvc``), whose
labels arrive now; without an ID, nothing. Pulling every batch ever scored grows month by
month. A project that tracks those folders whole (``monitoring/<kind>.dvc``) gets them whole,
as scoring must re-add them with every file present.

Usage: python -m scripts.dvc_remote pull|push
       python -m scripts.dvc_remote pull-batch [ID]
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path

REMOTE_NAME = "ci"
# URL scheme -> the DVC extra that provides it (https://dvc.org/doc/user-guide/data-management/remote-storage)
SCHEME_EXTRAS = {
    "s3": "s3",
    "gs": "gs",
    "gcs": "gs",
    "azure": "azure",
    "gdrive": "gdrive",
    "ssh": "ssh",
    "sftp": "ssh",
    "hdfs": "hdfs",
    "webhdfs": "webhdfs",
    "oss": "oss",
    "webdav": "webdav",
    "webdavs": "webdav",
    "http": "http",
    "https": "http",
}


class RemoteError(Exception):
    """The remote URL cannot be used."""


def plugin_requirement(url: str) -> str | None:
    """The pip requirement DVC needs for ``url`` (None: local paths need none)."""
    if "\n" in url or "\r" in url:
        raise RemoteError("DVC_REMOTE_URL: must be a single line")
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and url[1:3] in (":\\", ":/")):
        return None  # a local directory (or a Windows drive letter)
    if scheme not in SCHEME_EXTRAS:
        known = ", ".join(sorted(SCHEME_EXTRAS))
        raise RemoteError(f"DVC_REMOTE_URL: unsupported scheme '{scheme}' (known: {known})")
    return f"dvc[{SCHEME_EXTRAS[scheme]}]"


def commands(
    action: str,
    url: str,
    python: str = sys.executable,
    endpoint: str = "",
    targets: Sequence[str] | None = None,
) -> list[list[str]]:
    """The commands that configure the remote (and its endpoint, for S3-compatible storage
    such as MinIO) and pull or push through it: everything, or only ``targets`` (none: the
    remote is configured and nothing moves)."""
    if action not in ("pull", "push"):
        raise RemoteError(f"unknown action '{action}' (expected pull or push)")
    dvc = [python, "-m", "dvc"]
    steps = []
    requirement = plugin_requirement(url)
    if requirement:
        steps.append([python, "-m", "pip", "install", "--quiet", requirement])
    steps.append([*dvc, "remote", "add", "--local", "--force", "--default", REMOTE_NAME, url])
    if endpoint:
        modify = [*dvc, "remote", "modify", "--local", REMOTE_NAME, "endpointurl", endpoint]
        steps.append(modify)
    if targets is None:
        steps.append([*dvc, action, "--remote", REMOTE_NAME])
    elif targets:
        steps.append([*dvc, action, "--remote", REMOTE_NAME, *targets])
    return steps


def batch_targets(batch: str, root: Path = Path(".")) -> list[str]:
    """The ``.dvc`` files of what DVC tracks of a scored batch (``stages.score``), those that
    exist; a folder tracked whole is pulled whole."""
    from stages.score import checked_batch_id, tracked_paths

    if not batch:
        return []
    checked_batch_id(batch)  # a StageError: a path, not a batch id
    found = [Path(f"{path}.dvc") for path in tracked_paths(root, batch)]
    return [str(path.relative_to(root)) for path in found if path.is_file()]


def run(
    action: str,
    env: Mapping[str, str],
    cwd: Path | None = None,
    targets: Sequence[str] | None = None,
) -> int:
    url = env.get("DVC_REMOTE_URL", "").strip()
    if not url:
        print(
            f"dvc-remote: no DVC_REMOTE_URL (no remote configured, or a fork's pull request): "
            f"skipping {action}; the pipeline is reproduced from scratch"
        )
        return 0
    try:
        endpoint = env.get("DVC_REMOTE_ENDPOINT_URL", "").strip()
        if "\n" in endpoint or "\r" in endpoint:
            raise RemoteError("DVC_REMOTE_ENDPOINT_URL: must be a single line")
        steps = commands(action, url, endpoint=endpoint, targets=targets)
    except RemoteError as exc:
        print(f"::error::dvc-remote: {exc}", file=sys.stderr)
        return 2
    for step in steps:
        # An argument list, no shell: the URL is data.
        done = subprocess.run(step, cwd=cwd, check=False)
        if done.returncode != 0:
            if action == "pull" and targets != [] and step is steps[-1]:
                print("::warning::dvc-remote: pull incomplete; dvc repro rebuilds what is missing")
                return 0
            print(f"::error::dvc-remote: '{' '.join(step[:4])} ...' failed", file=sys.stderr)
            return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["pull-batch"] and len(args) <= 2:
        from stages.common import StageError

        try:
            targets = batch_targets(args[1].strip() if len(args) == 2 else "")
        except StageError as exc:
            print(f"::error::dvc-remote: {exc}", file=sys.stderr)
            return 2
        return run("pull", os.environ, targets=targets)
    if args not in (["pull"], ["push"]):
        print("usage: python -m scripts.dvc_remote pull|push|pull-batch [ID]", file=sys.stderr)
        return 2
    return run(args[0], os.environ)


if __name__ == "__main__":
    sys.exit(main())
