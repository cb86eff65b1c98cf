"""Operation behind ``mlgate sweep``: a declared search space turned into DVC experiments.

A sweep file (``sweep.yaml``) names the params and their ranges or choices, the sampler
(``grid``, ``random`` or Optuna's ``tpe``), the number of trials and the seed. Every trial
is a DVC experiment (``dvc exp run --queue -S key=value``), run by DVC's queue with ``jobs``
workers, so each one can be inspected, applied or branched like any other, and the stages
upstream of the changed params come from DVC's run cache instead of running again. A trial
that fails is recorded as failed and the sweep goes on. The trials are then ranked by the
release gates (``mlgate.experiments``). ``tpe`` asks Optuna for ``jobs`` trials at a time,
runs them as one queue, and tells it the main metric, with the number of failing gates as
a constraint (Optuna's constrained TPE: a trial that fails a gate is not a good one,
whatever its metric).

``shard`` (``i/n``) keeps the trials whose index is ``i`` modulo ``n``: n CI runners run one
shard each and push their experiments; one job then pulls and ranks them all.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import dvcadapter
from mlgate.dvcfiles import read_text_file
from mlgate.errors import ConfigError, InputError
from mlgate.experiments import Ranking, direction, head_gates, list_experiments, rank
from mlgate.gates import HIGHER
from mlgate.loaders import parse_yaml

SAMPLERS = ("grid", "random", "tpe")
SWEEP_KEYS = ("name", "sampler", "trials", "seed", "jobs", "params")
MAX_TRIALS = 10_000


@dataclass(frozen=True)
class Space:
    """One param's search space: ``choices`` (any sampler) or a numeric range ``low``-``high``
    (``int`` or float, ``log`` scale), which a grid walks in ``steps`` points."""

    key: str
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    integer: bool = False
    log: bool = False
    steps: int = 0

    def grid(self) -> list[Any]:
        if self.choices:
            return list(self.choices)
        assert self.low is not None and self.high is not None
        if self.steps < 2:
            return [self.low]
        points = []
        for k in range(self.steps):
            if self.log:
                value = self.low * (self.high / self.low) ** (k / (self.steps - 1))
            else:
                value = self.low + (self.high - self.low) * k / (self.steps - 1)
            points.append(round(value) if self.integer else round(value, 12))
        return list(dict.fromkeys(points))

    def sample(self, rng: random.Random) -> Any:
        if self.choices:
            return rng.choice(self.choices)
        assert self.low is not None and self.high is not None
        if self.integer:
            return rng.randint(int(self.low), int(self.high))
        if self.log:
            import math

            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return rng.uniform(self.low, self.high)


@dataclass(frozen=True)
class Sweep:
    name: str
    sampler: str
    trials: int
    seed: int
    jobs: int
    spaces: tuple[Space, ...]
    source: str


@dataclass(frozen=True)
class Trial:
    """One proposed experiment: its name and the ``key=value`` overrides of ``-S``."""

    index: int
    name: str
    values: dict[str, Any]

    def overrides(self) -> list[str]:
        return [f"{key}={_yaml_value(value)}" for key, value in self.values.items()]


@dataclass(frozen=True)
class SweepResult:
    sweep: Sweep
    trials: list[Trial]
    failed: list[str]  # names of the trials DVC could not run
    ranking: Ranking | None
    notes: list[str] = field(default_factory=list)


def _yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _space(key: Any, raw: Any, where: str) -> Space:
    if not isinstance(key, str) or not key or any(c in key for c in "=, "):
        raise ConfigError(f"{where}: a param is a dotted params.yaml key, got {key!r}")
    here = f"{where}.{key}"
    if isinstance(raw, list):
        raw = {"choices": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"{here}: expected a list of choices or {{low, high}}, got {raw!r}")
    unknown = set(raw) - {"choices", "low", "high", "type", "log", "steps"}
    if unknown:
        raise ConfigError(f"{here}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    if "choices" in raw:
        choices = raw["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{here}.choices: expected a non-empty list")
        if any(isinstance(c, (dict, list)) for c in choices):
            raise ConfigError(f"{here}.choices: each choice must be a number, text or bool")
        return Space(key, tuple(choices))
    if "low" not in raw or "high" not in raw:
        raise ConfigError(f"{here}: give choices, or low and high")
    low, high = _number(raw["low"], f"{here}.low"), _number(raw["high"], f"{here}.high")
    kind = raw.get("type", "float")
    if kind not in ("int", "float"):
        raise ConfigError(f"{here}.type: expected int or float, got {kind!r}")
    log = raw.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{here}.log: expected true or false")
    if not low < high or (log and low <= 0):
        raise ConfigError(f"{here}: expected low < high (and low > 0 on a log scale)")
    steps = raw.get("steps", 5)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 1000:
        raise ConfigError(f"{here}.steps: expected a whole number from 1 to 1000")
    return Space(key, (), low, high, kind == "int", log, steps)


def _whole(raw: dict[str, Any], key: str, default: int, low: int, high: int, where: str) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}.{key}: expected a whole number from {low} to {high}")
    return value


def load(path: Path) -> Sweep:
    """The sweep file at ``path``, checked: every problem is one ConfigError line."""
    text = read_text_file(Path(path))
    where = str(path)
    if text is None:
        raise InputError(f"{where}: sweep file not found")
    raw = parse_yaml(text, where)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with params, sampler, trials")
    unknown = set(raw) - set(SWEEP_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
            f"(expected {', '.join(SWEEP_KEYS)})"
        )
    sampler = raw.get("sampler", "grid")
    if sampler not in SAMPLERS:
        raise ConfigError(f"{where}.sampler: expected one of {', '.join(SAMPLERS)}")
    params = raw.get("params")
    if not isinstance(params, dict) or not params:
        raise ConfigError(f"{where}.params: expected a mapping of param keys to spaces")
    spaces = tuple(_space(key, value, f"{where}.params") for key, value in params.items())
    name = raw.get("name", Path(path).stem)
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{where}.name: letters, digits, '-' and '_' only")
    if sampler == "tpe" and any(space.choices and len(space.choices) > 64 for space in spaces):
        raise ConfigError(f"{where}.params: at most 64 choices per param with tpe")
    return Sweep(
        name=name,
        sampler=sampler,
        trials=_whole(raw, "trials", 10, 1, MAX_TRIALS, where),
        seed=_whole(raw, "seed", 0, 0, 2**31 - 1, where),
        jobs=_whole(raw, "jobs", 1, 1, 64, where),
        spaces=spaces,
        source=where,
    )


def propose(sweep: Sweep, trials: int | None = None) -> list[Trial]:
    """The trials of a grid (every combination, at most ``trials`` of them, in order) or of a
    random sample (``trials`` draws, seeded); tpe proposes as it goes (``run``)."""
    count = sweep.trials if trials is None else trials
    keys = [space.key for space in sweep.spaces]
    if sweep.sampler == "grid":
        combos: Iterator[tuple[Any, ...]] = itertools.product(*(s.grid() for s in sweep.spaces))
        chosen = list(itertools.islice(combos, count))
    else:
        rng = random.Random(sweep.seed)
        chosen = [tuple(space.sample(rng) for space in sweep.spaces) for _ in range(count)]
    return [
        Trial(index, f"{sweep.name}-{index:03d}", dict(zip(keys, values, strict=True)))
        for index, values in enumerate(chosen)
    ]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``i/n`` (0 <= i < n) or None."""
    if text is None:
        return None
    part, _, total = text.partition("/")
    if not (part.isdecimal() and total.isdecimal()) or not 0 <= int(part) < int(total):
        raise InputError(f"--shard {text!r}: expected i/n with 0 <= i < n, e.g. 0/4")
    return int(part), int(total)


def _refuse_taken(root: Path, trials: list[Trial]) -> None:
    taken = {exp.name for exp in list_experiments(root)} & {t.name for t in trials}
    if taken:
        raise InputError(
            f"experiment(s) {', '.join(sorted(taken))} exist already: remove them "
            "(dvc exp remove) or give the sweep another name"
        )


def _run(root: Path, trials: list[Trial], jobs: int) -> list[str]:
    """Queue and run ``trials`` as DVC experiments; the names of those that failed."""
    _refuse_taken(root, trials)
    for trial in trials:
        dvcadapter.queue_experiment(root, trial.name, trial.overrides())
    dvcadapter.run_queue(root, jobs)
    done = {exp.name for exp in list_experiments(root)}
    return [trial.name for trial in trials if trial.name not in done]


def run(
    root: Path,
    sweep: Sweep,
    jobs: int | None = None,
    trials: int | None = None,
    shard: tuple[int, int] | None = None,
    baseline: str | None = None,
    gates_file: Path | None = None,
) -> SweepResult:
    """Run the sweep as DVC experiments from the checked-out commit and rank them."""
    workers = jobs or sweep.jobs
    if sweep.sampler == "tpe":
        if shard is not None:
            raise InputError("--shard splits a grid or random sweep; tpe learns from every trial")
        return _run_tpe(root, sweep, workers, trials or sweep.trials, baseline, gates_file)
    proposed = propose(sweep, trials)
    mine = [t for t in proposed if shard is None or t.index % shard[1] == shard[0]]
    failed = _run(root, mine, workers)
    ranking = rank(root, baseline, gates_file, names=[t.name for t in mine])
    return SweepResult(sweep, mine, failed, _only(ranking, mine))


def _only(ranking: Ranking, trials: list[Trial]) -> Ranking:
    names = {trial.name for trial in trials}
    kept = [ranked for ranked in ranking.experiments if ranked.experiment.name in names]
    return Ranking(
        kept,
        ranking.main_metric,
        ranking.direction,
        ranking.baseline,
        ranking.baseline_note,
        ranking.gates_source,
        ranking.scope,
        [],
    )


def _run_tpe(
    root: Path,
    sweep: Sweep,
    jobs: int,
    count: int,
    baseline: str | None,
    gates_file: Path | None,
) -> SweepResult:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def constraints(trial: Any) -> list[float]:
        return [float(trial.user_attrs.get("failing_gates", 1))]

    # Optuna 5 takes a trial's constraints from the trial (set_constraint) and deprecates the
    # sampler's constraints_func (a FutureWarning on every sweep); Optuna 4 only has the latter.
    on_trial = hasattr(optuna.trial.Trial, "set_constraint")
    sampler = (
        optuna.samplers.TPESampler(seed=sweep.seed)
        if on_trial
        else optuna.samplers.TPESampler(seed=sweep.seed, constraints_func=constraints)
    )
    maximise = direction(head_gates(root, gates_file)) == HIGHER
    study = optuna.create_study(direction="maximize" if maximise else "minimize", sampler=sampler)
    distributions = {space.key: _distribution(optuna, space) for space in sweep.spaces}
    trials: list[Trial] = []
    failed: list[str] = []
    while len(trials) < count:
        batch = [study.ask(distributions) for _ in range(min(jobs, count - len(trials)))]
        proposed = [
            Trial(len(trials) + k, f"{sweep.name}-{len(trials) + k:03d}", dict(asked.params))
            for k, asked in enumerate(batch)
        ]
        trials += proposed
        failed += _run(root, proposed, jobs)
        judged_now = rank(root, baseline, gates_file, names=[t.name for t in proposed])
        by_name = {r.experiment.name: r for r in judged_now.experiments}
        for asked, trial in zip(batch, proposed, strict=True):
            judged = by_name.get(trial.name)
            if judged is None or judged.result is None or judged.main_value is None:
                study.tell(asked, state=optuna.trial.TrialState.FAIL)
                continue
            asked.set_user_attr("failing_gates", len(judged.failing))
            if on_trial:
                asked.set_constraint("failing_gates", float(len(judged.failing)))
            study.tell(asked, judged.main_value)
    ranking = rank(root, baseline, gates_file, names=[t.name for t in trials])
    return SweepResult(sweep, trials, failed, _only(ranking, trials))


def _distribution(optuna: Any, space: Space) -> Any:
    if space.choices:
        return optuna.distributions.CategoricalDistribution(list(space.choices))
    if space.integer:
        return optuna.distributions.IntDistribution(int(space.low or 0), int(space.high or 0))
    return optuna.distributions.FloatDistribution(space.low, space.high, log=space.log)
