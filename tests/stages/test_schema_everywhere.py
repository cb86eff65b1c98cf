"""Every stage that reads params.yaml's `schema` checks it first: a stage runs alone too
(the commands docs/pipeline.md describes), not only after validate, which used to be the only
one to check."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.stages.stage_runner import REPO, run_stage

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))

# (stage, its arguments, its outputs), each output made beforehand as a stale file
STAGES = {
    "featurize": (
        ["--inputs", "a", "b", "c", "--outputs", "f1", "f2", "f3", "--featurizer", "z"],
        ["f1", "f2", "f3", "z"],
    ),
    "train": (["--features", "f1", "--featurizer", "z", "--model", "m"], ["m"]),
    "evaluate": (
        ["--model", "m", "--test", "t", "--metrics", "mx", "--inference", "i", "--plots", "p"],
        ["mx", "i"],
    ),
    "drift": (["--reference", "a", "--current", "b", "--metrics", "d"], ["d"]),
}
BAD = {
    "sensitive repeated": ({"sensitive": ["sex", "sex"]}, "'schema.sensitive' names ['sex']"),
    "values repeated": (
        {"categorical": {**PARAMS["schema"]["categorical"], "sex": {"values": ["Male", "Male"]}}},
        "'schema.categorical.sex.values' repeats ['Male']",
    ),
    "target missing": ({"target": None}, "'schema.target' must be str"),
    "numeric null": ({"numeric": None}, "'schema.numeric' must be dict"),
}


@pytest.mark.parametrize("bad", list(BAD))
@pytest.mark.parametrize("stage", list(STAGES))
def test_a_bad_schema_is_one_line_and_leaves_no_output(
    tmp_path: Path, stage: str, bad: str
) -> None:
    args, outputs = STAGES[stage]
    for name in outputs:
        (tmp_path / name).write_text("stale")
    change, message = BAD[bad]
    params = {**PARAMS, "schema": {**PARAMS["schema"], **change}}
    done = run_stage(stage, args, tmp_path, params)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(f"{stage}: error: params.yaml: ") and message in lines[-1]
    assert not [name for name in outputs if (tmp_path / name).exists()]
