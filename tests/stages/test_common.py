"""Params reading shared by every stage: bad values are one-line errors, never tracebacks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stages.common import StageError, load_params
from stages.params import DriftParams, parse

DRIFT = {"p_value": 0.01, "psi": 0.1, "psi_bins": 10}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x", r"'drift.psi' must be int or float, got str 'x'"),
        (True, r"'drift.psi' must be int or float, got bool True"),
        (float("nan"), r"'drift.psi' must be a finite number, got nan"),
        (float("-inf"), r"'drift.psi' must be a finite number, got -inf"),
        (10**400, r"'drift.psi' is too large \(an integer of 1329 bits; numbers must fit in 64\)"),
        (-(2**63), r"'drift.psi' is too large \(an integer of 64 bits"),
    ],
)
def test_a_number_param_refuses_what_would_compare_false_or_overflow(value, message) -> None:
    with pytest.raises(StageError, match=f"^params.yaml: {message}"):
        parse(DriftParams, {**DRIFT, "psi": value})


def test_a_number_param_is_a_float() -> None:
    assert parse(DriftParams, {**DRIFT, "psi": 3}).psi == 3.0
    assert isinstance(parse(DriftParams, {**DRIFT, "psi": 3}).psi, float)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train:\n  seed: " + "9" * 5000 + "\n", r"malformed YAML \(Exceeds the limit"),
        ("train:\n  when: 2026-13-45\n", r"malformed YAML \(month must be in 1..12\)"),
        ("train: [1, 2\n", r"malformed YAML \(line 2\)"),
        ("train:\n  seed: 1\n  seed: 2\n", r"duplicate key 'seed' \(line 3\)"),
    ],
)
def test_load_params_names_the_file_for_values_python_cannot_build(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StageError, match=rf"params.yaml: {message}") as error:
        load_params("train", path)
    assert "\n" not in str(error.value)


def _python(code: str) -> str:
    """stdout of a fresh interpreter running `code` with the repository importable."""
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_a_stage_imports_without_the_collector_and_works_with_it() -> None:
    # `python -m stages.<name>`: Python imports the package while sys.argv[0] is "-m"
    code = (
        "import sys; sys.argv, sys.orig_argv = ['-m'], [sys.executable, '-m', 'stages.drift']\n"
        "import gc, stages\n"
        "during_imports = gc.isenabled()\n"
        "from stages.common import run_stage\n"
        "sys.argv = ['stage']\n"
        "def main(argv): print(during_imports, gc.isenabled(), gc.get_freeze_count() > 0)\n"
        "run_stage('t', main)"
    )
    assert _python(code) == "False True True"


@pytest.mark.parametrize(
    ("stage", "imported"), [("stages.train", True), ("stages.ingest", False), ("other", False)]
)
def test_only_a_model_stage_starts_with_scipy_special(stage: str, imported: bool) -> None:
    code = (
        f"import sys; sys.argv, sys.orig_argv = ['-m'], [sys.executable, '-m', '{stage}']\n"
        "import stages\n"
        "print('scipy.special' in sys.modules)"
    )
    assert _python(code) == str(imported)


def test_importing_the_stages_any_other_way_leaves_the_collector_alone() -> None:
    assert _python("import gc, stages.train; print(gc.isenabled(), gc.get_freeze_count())") == (
        "True 0"
    )


def test_only_numpys_too_big_value_error_is_out_of_memory(monkeypatch, capsys) -> None:
    """numpy's "array is too big" is a one-line out-of-memory error; any other ValueError is
    a bug and keeps its traceback."""
    import gc
    import warnings

    from stages.common import run_stage

    monkeypatch.setattr(sys, "argv", ["stage"])
    # run_stage is made for a stage's own process: undo what it sets for one
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    monkeypatch.setattr(gc, "freeze", lambda: None)

    def too_big(argv):
        raise ValueError("array is too big; `arr.size * arr.dtype.itemsize` is larger than ...")

    with pytest.raises(SystemExit) as exited:
        run_stage("t", too_big)
    assert exited.value.code == 1
    assert capsys.readouterr().err.startswith("t: error: out of memory (array is too big;")

    def bug(argv):
        raise ValueError("something else")

    with pytest.raises(ValueError, match="something else"):
        run_stage("t", bug)


def test_load_params_reads_yaml_1_2_as_dvc_does(tmp_path: Path) -> None:
    # DVC (ruamel) shows these params as 10, 15, "NO", "on" and "1:30"; YAML 1.1 reads
    # 8, a string, False, True and 90
    path = tmp_path / "params.yaml"
    path.write_text("s:\n  a: 010\n  b: 0o17\n  c: NO\n  d: on\n  e: 1:30\n  f: 1e-3\n")
    assert load_params("s", path) == {
        "a": 10,
        "b": 15,
        "c": "NO",
        "d": "on",
        "e": "1:30",
        "f": 0.001,
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"train:\n  seed: 1  # caf\xe9\n", r"params.yaml: not valid UTF-8 \(byte 23"),
        (b"train: " + b"[" * 20000 + b"\n", r"params.yaml: malformed YAML"),
    ],
)
def test_load_params_names_the_file_for_undecodable_or_too_deep_text(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "params.yaml"
    path.write_bytes(data)
    with pytest.raises(StageError, match=message):
        load_params("train", path)
