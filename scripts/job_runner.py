"""Run GitHub Actions jobs locally, with a stand-in for the GitHub API: the runner the
local replays share (``scripts/local_ci.py``: the CI/CD loop; ``scripts/local_sweep.py``: the
sweep; ``scripts/timeline.py``: a year in production).

``JobRunner`` reads a job from ``.github/workflows``, evaluates its ``if:``/``env:``/``with:``
expressions (scripts/gha_expr.py) and runs its ``run:`` steps with bash in a fresh clone of a
bare remote; the actions have local equivalents (checkout = the clone, setup-python = the
caller's virtualenv linked as ``.venv``, upload/download-artifact = a directory, cache =
nothing). ``fake_github`` serves the REST calls the workflows make (pull requests, comments,
issues) on 127.0.0.1 and records them in a ``FakeGitHubState``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from scripts.gha_expr import ExpressionError, Status, condition, interpolate, to_text

REPO_NAME = "local/mlgate"
TOKEN = "local-token"  # only ever sent to the local API stand-in
PR_NUMBER = 1
PR_BRANCH = "pr-1"
DEFAULT_BRANCH = "main"
LOCAL_SKIP_IDS = frozenset({"install"})  # replaced by linking the caller's virtualenv
# Make targets that (re)install into .venv: in a clone, .venv links to the caller's
# virtualenv, so running them would rewrite it. A workflow step calling one fails here.
REINSTALLING_TARGETS = frozenset({"dev", "install", "test", "repro"})
NO_OP_ACTIONS = frozenset({"actions/checkout", "actions/setup-python", "actions/cache"})


class LocalCIError(Exception):
    """The loop cannot be set up (not a git repository, no such ref, ...)."""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LocalCIError(f"git {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout.strip()


# --- a local stand-in for the GitHub REST API (pull request and its comments) ------------


@dataclass
class FakeGitHubState:
    pulls: dict[int, str] = field(default_factory=dict)  # number -> head sha
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    # pull requests opened through the API: number, state, title, body, head, base (branches)
    opened: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 1


def _handler(state: FakeGitHubState, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    prefix = f"/repos/{REPO_NAME}/"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, data: Any) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _route(self, method: str) -> None:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._reply(401, {"message": "Bad credentials"})
            path = self.path.split("?", 1)[0]
            if not path.startswith(prefix):
                return self._reply(404, {"message": "Not Found"})
            parts = path[len(prefix) :].split("/")
            length = int(self.headers.get("Content-Length") or 0)
            payload = json.loads(self.rfile.read(length) or b"null")
            with lock:
                if method == "GET" and parts[0] == "pulls" and len(parts) == 2:
                    number = int(parts[1])
                    if number not in state.pulls:
                        return self._reply(404, {"message": "Not Found"})
                    return self._reply(
                        200, {"number": number, "head": {"sha": state.pulls[number]}}
                    )
                if parts == ["pulls"] and method == "GET":
                    query = urllib.parse.parse_qs(self.path.partition("?")[2])
                    head = query.get("head", [""])[0].partition(":")[2]
                    return self._reply(
                        200,
                        [
                            p
                            for p in state.opened
                            if p["state"] == "open" and (not head or p["head"] == head)
                        ],
                    )
                if parts == ["pulls"] and method == "POST":
                    # kept as asked for (head and base: branch names), open, by the bot
                    number = 100 + len(state.opened)
                    pull = {
                        "number": number,
                        "state": "open",
                        "user": {"login": "github-actions[bot]", "type": "Bot"},
                        **payload,
                    }
                    state.opened.append(pull)
                    state.pulls[number] = payload["head"]
                    return self._reply(201, {**pull, "html_url": f"local/pull/{number}"})
                if method == "PATCH" and parts[0] == "pulls" and len(parts) == 2:
                    pull = next(p for p in state.opened if p["number"] == int(parts[1]))
                    pull.update(
                        {k: v for k, v in payload.items() if k in ("title", "body", "state")}
                    )
                    return self._reply(200, pull)
                if parts[0] == "issues" and len(parts) == 3 and parts[2] == "comments":
                    number = int(parts[1])
                    if method == "GET":
                        return self._reply(200, state.comments.get(number, []))
                    comment = {
                        "id": state.next_id,
                        "body": payload["body"],
                        "user": {"login": "github-actions[bot]", "type": "Bot"},
                    }
                    state.next_id += 1
                    state.comments.setdefault(number, []).append(comment)
                    return self._reply(201, comment)
                if parts == ["issues"] and method == "GET":
                    return self._reply(200, [i for i in state.issues if i["state"] == "open"])
                if parts == ["issues"] and method == "POST":
                    issue = {
                        "number": len(state.issues) + 1,
                        "state": "open",
                        "title": payload["title"],
                        "body": payload["body"],
                        "labels": [{"name": name} for name in payload.get("labels", [])],
                        "user": {"login": "github-actions[bot]", "type": "Bot"},
                    }
                    state.issues.append(issue)
                    return self._reply(201, issue)
                if method == "PATCH" and parts[0] == "issues" and len(parts) == 2:
                    issue = state.issues[int(parts[1]) - 1]
                    issue.update(title=payload["title"], body=payload["body"])
                    return self._reply(200, issue)
                if method == "PATCH" and parts[:2] == ["issues", "comments"]:
                    for comment in (c for cs in state.comments.values() for c in cs):
                        if comment["id"] == int(parts[2]):
                            comment["body"] = payload["body"]
                            return self._reply(200, comment)
            return self._reply(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

    return Handler


@contextmanager
def fake_github(state: FakeGitHubState) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1 for the duration; yields the API base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state, threading.Lock()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --- running one job of a workflow ---------------------------------------------------------


@dataclass
class StepResult:
    name: str
    outcome: str  # success | failure | skipped
    conclusion: str
    seconds: float = 0.0
    note: str = ""


@dataclass
class JobResult:
    workflow: str
    job: str
    result: str  # success | failure | skipped
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # the job's `outputs:`, evaluated


@dataclass(frozen=True)
class Event:
    """What GitHub would put in the ``github`` context for one run."""

    name: str
    sha: str
    ref: str
    payload: Mapping[str, Any]
    secrets: Mapping[str, str] = field(default_factory=dict)
    inputs: Mapping[str, Any] = field(default_factory=dict)  # a boolean input is a bool
    api_url: str = "https://api.github.invalid"


def _parse_command_file(path: Path) -> dict[str, str]:
    """``name=value`` and ``name<<DELIM ... DELIM`` lines (GITHUB_OUTPUT, GITHUB_ENV)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for more in lines:
                if more == delimiter:
                    break
                body.append(more)
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def _base_env() -> dict[str, str]:
    """The caller's environment minus anything GitHub-specific (a real token, say)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "RUNNER_", "ACTIONS_")) and k not in ("CI",)
    }


class JobRunner:
    def __init__(self, scratch: Path, venv: Path, log: Any = None) -> None:
        self.scratch = scratch
        self.venv = venv
        self.artifacts = scratch / "artifacts"
        self.log = log or sys.stdout
        self.run_id = 1000

    def say(self, text: str) -> None:
        print(text, file=self.log, flush=True)

    def run(
        self,
        workflow_file: Path,
        job_id: str,
        workspace: Path,
        event: Event,
        matrix: Mapping[str, Any] | None = None,
        needs: Mapping[str, Any] | None = None,
    ) -> JobResult:
        """One job; ``matrix`` is one combination of its strategy, ``needs`` the
        ``{job: {"result", "outputs"}}`` of the jobs it needs."""
        workflow = yaml.safe_load(workflow_file.read_text())
        job = workflow["jobs"][job_id]
        self.run_id += 1
        temp = workspace.parent / f"{workspace.name}-temp"
        temp.mkdir(parents=True, exist_ok=True)
        github = {
            "event_name": event.name,
            "event": dict(event.payload),
            "sha": event.sha,
            "ref": event.ref,
            "repository": REPO_NAME,
            "server_url": "https://github.invalid",
            "api_url": event.api_url,
            "run_id": str(self.run_id),
            "workspace": str(workspace),
            "token": TOKEN,
            "workflow": workflow.get("name", workflow_file.stem),
            "job": job_id,
        }
        context: dict[str, Any] = {
            "github": github,
            "runner": {"temp": str(temp), "os": "Linux"},
            "secrets": {"GITHUB_TOKEN": TOKEN, **event.secrets},
            "vars": {},
            "inputs": dict(event.inputs),
            "steps": {},
            "env": {},
            "job": {"status": "success"},
            "matrix": dict(matrix or {}),
            "needs": dict(needs or {}),
        }
        result = JobResult(workflow_file.name, job_id, "success")
        self.say(f"\n=== {workflow_file.name} / {job_id} ({event.name}) in {workspace}")
        if not condition(job.get("if"), context, Status()):
            result.result = "skipped"
            self.say("    job skipped: its 'if:' is false")
            return result
        env = _base_env()
        for scope in (workflow.get("env") or {}, job.get("env") or {}):
            for key, value in scope.items():
                env[key] = to_text(interpolate(value, context))
        context["env"] = dict(env)
        env.update(
            CI="true",
            GITHUB_WORKSPACE=str(workspace),
            GITHUB_SHA=event.sha,
            GITHUB_REF=event.ref,
            GITHUB_EVENT_NAME=event.name,
            GITHUB_REPOSITORY=REPO_NAME,
            GITHUB_API_URL=event.api_url,
            GITHUB_RUN_ID=str(self.run_id),
            RUNNER_TEMP=str(temp),
        )
        event_path = temp / "event.json"
        event_path.write_text(json.dumps(event.payload))
        env["GITHUB_EVENT_PATH"] = str(event_path)
        deadline = time.monotonic() + 60 * int(job.get("timeout-minutes", 360))
        failed = False
        for index, step in enumerate(job.get("steps") or []):
            name = step.get("name") or step.get("run") or step.get("uses") or f"step {index + 1}"
            status = Status(failed=failed)
            if not condition(step.get("if"), context, status):
                outcome = StepResult(name, "skipped", "skipped")
            else:
                outcome = self.step(step, name, env, context, workspace, temp, deadline)
                if outcome.outcome == "failure" and step.get("continue-on-error") is True:
                    outcome.conclusion = "success"
                failed = failed or outcome.conclusion == "failure"
            result.steps.append(outcome)
            if step.get("id"):
                context["steps"][step["id"]] = {
                    "outcome": outcome.outcome,
                    "conclusion": outcome.conclusion,
                    "outputs": context["steps"].get(step["id"], {}).get("outputs", {}),
                }
            mark = {"success": "ok  ", "failure": "FAIL", "skipped": "skip"}[outcome.outcome]
            note = f"  ({outcome.note})" if outcome.note else ""
            self.say(f"    [{mark}] {name} {outcome.seconds:.1f}s{note}")
        result.result = "failure" if failed else "success"
        context["job"]["status"] = result.result
        for key, value in (job.get("outputs") or {}).items():
            result.outputs[key] = to_text(interpolate(value, context))
        return result

    def step(
        self,
        step: Mapping[str, Any],
        name: str,
        env: dict[str, str],
        context: dict[str, Any],
        workspace: Path,
        temp: Path,
        deadline: float,
    ) -> StepResult:
        started = time.monotonic()
        try:
            step_env = dict(env)
            for key, value in (step.get("env") or {}).items():
                step_env[key] = to_text(interpolate(value, {**context, "env": step_env}))
            if "uses" in step:
                note = self.action(step, context, workspace)
            elif step.get("id") in LOCAL_SKIP_IDS:
                note = f"local: .venv -> {self.venv}"
            else:
                note = self.shell(step, step_env, env, context, workspace, temp, deadline)
        except (LocalCIError, ExpressionError, subprocess.TimeoutExpired, OSError) as exc:
            self.say(f"      {exc}")
            return StepResult(name, "failure", "failure", time.monotonic() - started, str(exc))
        return StepResult(name, "success", "success", time.monotonic() - started, note)

    def shell(
        self,
        step: Mapping[str, Any],
        step_env: dict[str, str],
        env: dict[str, str],
        context: dict[str, Any],
        workspace: Path,
        temp: Path,
        deadline: float,
    ) -> str:
        words = str(step["run"]).split()
        if words[:1] == ["make"] and REINSTALLING_TARGETS.intersection(words[1:]):
            raise LocalCIError(
                f"'{step['run']}' would reinstall into your virtualenv (linked as .venv); "
                "give the step 'id: install' or call a target that does not install"
            )
        output, env_file = temp / "output", temp / "env"
        for path in (output, env_file):
            path.write_text("")
        step_env.update(GITHUB_OUTPUT=str(output), GITHUB_ENV=str(env_file))
        step_env["GITHUB_STEP_SUMMARY"] = str(temp / "summary.md")
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", str(step["run"])],
            cwd=workspace,
            env=step_env,
            timeout=max(deadline - time.monotonic(), 1),
            check=False,
        )
        if step.get("id"):
            outputs = _parse_command_file(output)
            context["steps"].setdefault(step["id"], {})["outputs"] = outputs
        env.update(_parse_command_file(env_file))
        if done.returncode != 0:
            raise LocalCIError(f"exit code {done.returncode}")
        return ""

    def action(self, step: Mapping[str, Any], context: dict[str, Any], workspace: Path) -> str:
        action = str(step["uses"]).split("@", 1)[0]
        inputs = {k: to_text(interpolate(v, context)) for k, v in (step.get("with") or {}).items()}
        if action in NO_OP_ACTIONS:
            return (
                "local: "
                + {
                    "actions/checkout": "the job's fresh clone",
                    "actions/setup-python": f"{self.venv}",
                    "actions/cache": "no cache",
                }[action]
            )
        if action == "actions/upload-artifact":
            source = workspace / inputs["path"]
            target = self.artifacts / inputs["name"]
            if not source.exists():
                if inputs.get("if-no-files-found", "warn") == "error":
                    raise LocalCIError(f"upload-artifact: nothing at {inputs['path']}")
                return "nothing to upload"
            shutil.rmtree(target, ignore_errors=True)
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                target.mkdir(parents=True)
                shutil.copy2(source, target)
            return f"local: {target}"
        if action == "actions/download-artifact":
            source = self.artifacts / inputs["name"]
            if not source.is_dir():
                raise LocalCIError(f"download-artifact: no artifact '{inputs['name']}'")
            target = Path(inputs.get("path") or workspace)
            target = target if target.is_absolute() else workspace / target
            shutil.copytree(source, target, dirs_exist_ok=True)
            return f"local: {target}"
        raise LocalCIError(f"no local equivalent for action '{action}'")


def remote_tags(remote: Path) -> dict[str, str]:
    """Tag -> the commit it points at (annotated tags peeled), as ``git ls-remote`` says."""
    tags: dict[str, str] = {}
    for line in git(remote, "ls-remote", "--tags", str(remote)).splitlines():
        sha, ref = line.split("\t")
        name = ref.removeprefix("refs/tags/")
        if name.endswith("^{}"):
            tags[name[:-3]] = sha
        else:
            tags.setdefault(name, sha)
    return tags


def clone(remote: Path, target: Path, ref: str, venv: Path) -> Path:
    git(remote.parent, "clone", "--quiet", "--no-hardlinks", str(remote), str(target))
    git(target, "checkout", "--quiet", ref)
    (target / ".venv").symlink_to(venv, target_is_directory=True)
    # A symlink is not matched by a '.venv/' ignore rule; keep the clone's status clean
    # (mlgate release refuses a dirty tree) without touching any tracked file.
    with (target / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write("/.venv\n")
    return target
