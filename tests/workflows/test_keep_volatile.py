"""scripts/keep_volatile.py: restore only when nothing but volatile outputs changed."""

from __future__ import annotations

import copy
from typing import Any

from scripts.keep_volatile import LOCK, plan

VOLATILE = {"metrics/inference.json"}


def lock(model_md5: str = "aaa", timing_md5: str = "t1") -> dict[str, Any]:
    return {
        "schema": "2.0",
        "stages": {
            "train": {"cmd": "train", "outs": [{"path": "models/model.skops", "md5": model_md5}]},
            "evaluate": {
                "cmd": "evaluate",
                "outs": [
                    {"path": "metrics/metrics.json", "md5": "m"},
                    {"path": "metrics/inference.json", "md5": timing_md5},
                ],
            },
        },
    }


def test_restores_timings_and_lock_when_only_timings_changed() -> None:
    changed = {"metrics/inference.json", LOCK}
    assert plan(changed, VOLATILE, lock(), lock(timing_md5="t2")) == [
        LOCK,
        "metrics/inference.json",
    ]


def test_restores_nothing_when_the_model_changed_too() -> None:
    changed = {"metrics/inference.json", LOCK}
    assert plan(changed, VOLATILE, lock(), lock(model_md5="bbb", timing_md5="t2")) == []


def test_restores_nothing_when_another_file_changed() -> None:
    changed = {"metrics/inference.json", "metrics/metrics.json", LOCK}
    assert plan(changed, VOLATILE, lock(), lock(timing_md5="t2")) == []


def test_nothing_to_do_when_timings_did_not_change() -> None:
    assert plan(set(), VOLATILE, None, lock()) == []
    assert plan({"params.yaml"}, VOLATILE, None, lock()) == []


def test_timing_file_alone_is_restored_without_touching_the_lock() -> None:
    assert plan({"metrics/inference.json"}, VOLATILE, None, lock()) == ["metrics/inference.json"]


def test_plan_does_not_mutate_the_locks() -> None:
    committed, current = lock(), lock(timing_md5="t2")
    before = copy.deepcopy((committed, current))
    plan({"metrics/inference.json", LOCK}, VOLATILE, committed, current)
    assert (committed, current) == before
