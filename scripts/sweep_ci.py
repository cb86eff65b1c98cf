"""The steps of the sweep workflow (.github/workflows/sweep.yml), one subcommand each.

- ``plan``: checks the dispatch inputs and the sweep file, and writes the matrix of shards
  (``shards=["0/2","1/2"]`` to GITHUB_OUTPUT). A tpe sweep learns from every trial and cannot
  be split: it gets one runner, with a warning when more were asked for.
- ``trials``: runs one shard (``mlgate sweep FILE --shard I/N``) and pushes its experiments to
  the git remote and their outputs to the DVC remote (``dvc exp push origin``).
- ``rank``: fetches the experiments of the commit from the git remote
  (``refs/exps/<sha[:2]>/<sha[2:]>/*``), ranks them with ``mlgate experiments --all`` into
  ``build/sweep/ranking.{md,json}`` and the job summary; exit 1 when none passes the gates.
- ``pr``: turns the best passing experiment of ``build/sweep/ranking.json`` into a branch
  (``dvc exp branch``), pushes it, opens a pull request and posts the ranking on it.

Values arrive as environment variables (SWEEP_FILE, SWEEP_TRIALS, SWEEP_RUNNERS, SWEEP_SHARD,
SWEEP_BASE_REF, DVC_REMOTE_URL, and GitHub's GITHUB_*), never as shell text.

Usage: python -m scripts.sweep_ci plan|trials|rank|pr
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scripts import dvc_remote
from scripts.github_api import GitHub, GitHubError, cap_body

OUT_DIR = Path("build/sweep")
MAX_RUNNERS = 20
MAX_TRIALS = 10_000
ALL = "all"  # the shard of a single runner: the whole sweep, no --shard
BRANCH_PREFIX = "sweep/"
_EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
MLGATE = [sys.executable, "-m", "mlgate"]
DVC = [sys.executable, "-m", "dvc"]


class SweepCIError(Exception):
    """An input or a step of the sweep workflow is unusable; one line for the log."""


# --- inputs ----------------------------------------------------------------------------------


def sweep_file(text: str) -> str:
    """A relative path inside the checkout, not an option."""
    path = text.strip()
    if not path or path.startswith("-") or "\n" in path or Path(path).is_absolute():
        raise SweepCIError(f"sweep file {text!r}: expected a relative path such as sweep.yaml")
    if ".." in Path(path).parts:
        raise SweepCIError(f"sweep file {text!r}: must be inside the repository")
    return path


def whole(text: str, what: str, low: int, high: int) -> int:
    value = text.strip()
    if not value.isdecimal() or not low <= int(value) <= high:
        raise SweepCIError(f"{what} {text!r}: expected a whole number from {low} to {high}")
    return int(value)


def trials_override(text: str) -> int | None:
    return whole(text, "trials", 1, MAX_TRIALS) if text.strip() else None


def shards(sampler: str, runners: int, trial_count: int | None) -> tuple[list[str], str]:
    """The matrix (``i/n`` per runner, or ``all`` for one) and a note for the log."""
    if sampler == "tpe":
        note = ""
        if runners > 1:
            note = (
                f"tpe learns from every trial and cannot be split: one runner, not {runners} "
                "(use sampler: random or grid to spread trials over runners)"
            )
        return [ALL], note
    count = runners if trial_count is None else min(runners, trial_count)
    if count <= 1:
        return [ALL], ""
    note = f"{count} runner(s) of {runners} asked" if count < runners else ""
    return [f"{i}/{count}" for i in range(count)], note


def shard_args(shard: str) -> list[str]:
    shard = shard.strip()
    if shard in ("", ALL):
        return []
    if not re.fullmatch(r"\d{1,3}/\d{1,3}", shard):
        raise SweepCIError(f"shard {shard!r}: expected i/n or '{ALL}'")
    return ["--shard", shard]


def experiment_refspec(sha: str) -> str:
    """The experiments DVC records for commit ``sha``, as a forced fetch refspec."""
    if not re.fullmatch(r"[0-9a-f]{40}", sha):
        raise SweepCIError(f"not a commit id: {sha!r}")
    refs = f"refs/exps/{sha[:2]}/{sha[2:]}/*"
    return f"+{refs}:{refs}"


def best_passing(ranking: Mapping[str, Any]) -> dict[str, Any] | None:
    """The first passing experiment of ``mlgate experiments --format json`` (best first)."""
    for experiment in ranking.get("experiments") or []:
        if experiment.get("verdict") == "pass":
            name = str(experiment.get("name", ""))
            if not _EXPERIMENT_NAME.fullmatch(name):
                raise SweepCIError(f"ranking: experiment name {name!r} is not a branch-safe name")
            return dict(experiment)
    return None


def base_branch(ref: str) -> str:
    if not ref.startswith("refs/heads/") or len(ref) == len("refs/heads/"):
        raise SweepCIError(f"the sweep ran on {ref!r}: a pull request needs a branch to target")
    return ref.removeprefix("refs/heads/")


def pull_request_text(
    best: Mapping[str, Any], ranking: Mapping[str, Any], base: str, run_url: str
) -> tuple[str, str]:
    """Title and body of the pull request that proposes ``best``."""
    metric = ranking.get("main_metric") or "main metric"
    value = best.get("main_value")
    title = f"Sweep: {best['name']} ({metric} {value})"
    changed = [
        f"| `{key}` | {change.get('baseline')} | **{change.get('experiment')}** |"
        for key, change in sorted((best.get("params") or {}).items())
    ]
    table = ["| param | before | this experiment |", "|---|---|---|", *changed]
    body = [
        f"The best experiment of the sweep ({run_url}) that passes the gates: "
        f"`{best['name']}` ({best.get('sha', '')[:12]}), {metric} = {value}.",
        "",
        *(table if changed else ["No param differs from the baseline."]),
        "",
        f"Branch made with `dvc exp branch {best['name']}`, based on `{base}`. "
        "The ranking of every experiment is in the comment below.",
        "",
        "A pull request opened by GitHub Actions' token starts no workflow: close and reopen "
        "it (or push a commit to it) so that `ci` reproduces and gates it; once merged, "
        "`release` tags it as usual.",
    ]
    return title, "\n".join(body) + "\n"


# --- steps -----------------------------------------------------------------------------------


def _run(command: Sequence[str], ok: Sequence[int] = (0,), **kwargs: Any) -> int:
    print(f"sweep-ci: {' '.join(command[2:] if command[0] == sys.executable else command)}")
    done = subprocess.run(list(command), check=False, **kwargs)
    if done.returncode not in ok:
        raise SweepCIError(f"'{' '.join(command[2:4])} ...' exited {done.returncode}")
    return done.returncode


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SweepCIError(f"git {' '.join(args[:2])}: {done.stderr.strip()}")
    return done.stdout.strip()


def _configure_dvc_remote(env: Mapping[str, str]) -> bool:
    """Make DVC_REMOTE_URL the default DVC remote (.dvc/config.local); False without one."""
    url = env.get("DVC_REMOTE_URL", "").strip()
    if not url:
        return False
    try:
        setup = dvc_remote.commands("push", url)[:-1]  # everything but the push itself
    except dvc_remote.RemoteError as exc:
        raise SweepCIError(str(exc)) from exc
    for command in setup:
        _run(command)
    return True


def _write(env: Mapping[str, str], name: str, text: str) -> None:
    target = env.get(name)
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(text)


def plan(env: Mapping[str, str]) -> int:
    from mlgate import sweep as sweeping
    from mlgate.errors import MlgateError

    path = sweep_file(env.get("SWEEP_FILE", "sweep.yaml"))
    runners = whole(env.get("SWEEP_RUNNERS", "1"), "runners", 1, MAX_RUNNERS)
    trials = trials_override(env.get("SWEEP_TRIALS", ""))
    try:
        spec = sweeping.load(Path(path))
        count = None if spec.sampler == "tpe" else len(sweeping.propose(spec, trials))
    except MlgateError as exc:
        raise SweepCIError(str(exc)) from exc
    matrix, note = shards(spec.sampler, runners, count)
    if note:
        print(f"::warning::sweep: {note}")
    total = count if count is not None else (trials or spec.trials)
    line = (
        f"sweep `{spec.name}` ({spec.sampler}, {total} trial(s)) from `{path}` "
        f"on {len(matrix)} runner(s): {', '.join(matrix)}"
    )
    print(f"sweep-ci: {line}")
    _write(env, "GITHUB_OUTPUT", f"shards={json.dumps(matrix)}\n")
    _write(env, "GITHUB_STEP_SUMMARY", f"{line}\n" + (f"\n> {note}\n" if note else ""))
    return 0


def trials(env: Mapping[str, str]) -> int:
    path = sweep_file(env.get("SWEEP_FILE", "sweep.yaml"))
    count = trials_override(env.get("SWEEP_TRIALS", ""))
    has_remote = _configure_dvc_remote(env)
    command = [*MLGATE, "sweep", path, *shard_args(env.get("SWEEP_SHARD", ALL))]
    if count is not None:
        command += ["--trials", str(count)]
    # 1 (no trial of this shard passes) is a result, not a failure: the rank job judges all.
    _run(command, ok=(0, 1))
    push = [*DVC, "exp", "push", "origin"]  # the experiments of HEAD, refs and their outputs
    if not has_remote:
        print("::warning::sweep: no DVC_REMOTE_URL: experiments pushed without their outputs")
        push.append("--no-cache")
    _run(push)
    return 0


def _fetch_experiments() -> None:
    _git("fetch", "--quiet", "origin", experiment_refspec(_git("rev-parse", "HEAD")))


def rank(env: Mapping[str, str]) -> int:
    _configure_dvc_remote(env)  # where metrics the experiments cache in DVC are read from
    _fetch_experiments()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    outputs = {}
    for output_format in ("json", "md"):
        target = OUT_DIR / f"ranking.{output_format}"
        with target.open("w", encoding="utf-8") as handle:
            command = [*MLGATE, "experiments", "--all", "--format", output_format]
            _run(command, ok=(0, 1), stdout=handle)
        outputs[output_format] = target.read_text(encoding="utf-8")
    ranking = json.loads(outputs["json"])
    best = best_passing(ranking)
    count = len(ranking.get("experiments") or [])
    _write(env, "GITHUB_STEP_SUMMARY", f"## Sweep ranking\n\n{outputs['md']}\n")
    _write(env, "GITHUB_OUTPUT", f"best={best['name'] if best else ''}\n")
    print(outputs["md"])
    if best is None:
        print(f"::error::sweep: none of {count} experiment(s) passes the gates")
        return 1
    print(f"sweep-ci: {count} experiment(s) ranked; best passing: {best['name']}")
    return 0


def pull_request(env: Mapping[str, str]) -> int:
    ranking = json.loads((OUT_DIR / "ranking.json").read_text(encoding="utf-8"))
    best = best_passing(ranking)
    if best is None:
        raise SweepCIError("no experiment passes the gates: no pull request to open")
    base = base_branch(env.get("SWEEP_BASE_REF", ""))
    github = GitHub.from_env(env)
    _fetch_experiments()
    branch = f"{BRANCH_PREFIX}{best['name']}"
    _run([*DVC, "exp", "branch", best["name"], branch])
    _git("push", "--quiet", "origin", f"refs/heads/{branch}:refs/heads/{branch}")
    title, body = pull_request_text(best, ranking, base, env.get("RUN_URL", "this run"))
    opened = github.create_pull_request(title, branch, base, body)
    number = int(opened["number"])
    ranking_md = (OUT_DIR / "ranking.md").read_text(encoding="utf-8")
    github.create_comment(number, cap_body(f"## Sweep ranking\n\n{ranking_md}"))
    line = f"opened pull request #{number} from `{branch}` into `{base}`"
    print(f"sweep-ci: {line}")
    _write(env, "GITHUB_STEP_SUMMARY", f"{line}\n")
    return 0


STEPS = {"plan": plan, "trials": trials, "rank": rank, "pr": pull_request}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0] not in STEPS:
        print(f"usage: python -m scripts.sweep_ci {'|'.join(STEPS)}", file=sys.stderr)
        return 2
    try:
        return STEPS[args[0]](os.environ)
    except (SweepCIError, GitHubError, OSError, ValueError) as exc:
        print(f"::error::sweep {args[0]}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
