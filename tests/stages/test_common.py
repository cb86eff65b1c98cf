"""Params reading shared by every stage: bad values are one-line errors, never tracebacks."""

from pathlib import Path

import pytest

from stages.common import StageError, load_params, require_number


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x", r"'s.k' must be int or float, got str 'x'"),
        (True, r"'s.k' must be int or float, got bool True"),
        (float("nan"), r"'s.k' must be a finite number, got nan"),
        (float("-inf"), r"'s.k' must be a finite number, got -inf"),
        (10**400, r"'s.k' is too large \(an integer of 1329 bits; numbers must fit in 64\)"),
        (-(2**63), r"'s.k' is too large \(an integer of 64 bits"),
    ],
)
def test_require_number_refuses_what_would_compare_false_or_overflow(value, message) -> None:
    with pytest.raises(StageError, match=message):
        require_number({"k": value}, "k", "s")


def test_require_number_gives_a_float() -> None:
    assert require_number({"k": 3}, "k", "s") == 3.0
    assert isinstance(require_number({"k": 3}, "k", "s"), float)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train:\n  seed: " + "9" * 5000 + "\n", r"unreadable value \(Exceeds the limit"),
        ("train:\n  when: 2026-13-45\n", r"unreadable value \(month must be in 1..12\)"),
        ("train: [1, 2\n", r"malformed YAML at line 2"),
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
