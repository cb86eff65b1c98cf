"""The model card (stages/model_card.py): Mitchell et al.'s sections, the metrics files'
numbers digit for digit, the repository's own card in step with its metrics and dvc.lock,
and bad input as one line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from stages.common import StageError
from stages.model_card import (
    NOT_STATED,
    CardFacts,
    DataFile,
    file_md5,
    read_report,
    render_card,
)
from stages.params import ModelCardParams, parse
from tests.stages.stage_runner import REPO, run_stage

SECTIONS = [  # Mitchell et al. 2019, in their order, and the gates of this project
    "## Model details",
    "## Intended use",
    "## Factors",
    "## Metrics",
    "## Evaluation data",
    "## Training data",
    "## Quantitative analyses: per group",
    "## Quality gates",
    "## Ethical considerations",
    "## Caveats and recommendations",
]

METRICS: dict[str, Any] = {
    "accuracy": 0.871875,
    "f1": 0.707187,
    "roc_auc": 0.9275,
    "brier": 0.088002,
    "log_loss": 0.276846,
    "model_size_bytes": 1234,
    "fairness": {
        "sex": {
            "demographic_parity_difference": 0.178501,
            "equalized_odds_difference": 0.068335,
            "recall": {"Female": 0.598305, "Male": 0.665233},
            "selection_rate": {"Female": 0.082273, "Male": 0.260773},
        },
        "group|col": {  # data's text in a table: escaped, not a new column
            "demographic_parity_difference": 0.1,
            "equalized_odds_difference": 0.2,
            "recall": {"a|b": 0.5},
            "selection_rate": {"a|b": 0.25},
        },
    },
    "importance": {"age": 0.045306, "capital_gain": 0.053995},
}
VALIDATION = {
    "splits": {
        "train": {"rows": 100, "valid_rows": 98, "quarantined_rows": 2, "quarantine_share": 0.02},
        "test": {"rows": 50, "valid_rows": 50, "quarantined_rows": 0, "quarantine_share": 0.0},
        "current": {"rows": 10, "valid_rows": 9, "quarantined_rows": 1, "quarantine_share": 0.1},
    }
}
DRIFT = {
    "n_columns": 4,
    "n_drifted": 1,
    "share_drifted": 0.25,
    "columns": {"age": {"drifted": True}, "sex": {"drifted": False}},
}
ABOUT = parse(
    ModelCardParams,
    {
        "summary": "Predicts a thing.",
        "intended_use": "Teaching.",  # one line stands for a list of one
        "out_of_scope": ["Decisions about people."],
        "caveats": ["Old data."],
    },
)


def facts(**changes: Any) -> CardFacts:
    base: dict[str, Any] = {
        "about": ABOUT,
        "model_path": "models/model.skops",
        "model_md5": "0" * 32,
        "model_family": "hist_gradient_boosting",
        "target": "income",
        "labels": ("<=50K", ">50K"),
        "positive_label": ">50K",
        "threshold": 0.5,
        "train": DataFile("data/raw/train.csv", "data/validated/train.parquet", "1" * 32),
        "test": DataFile("data/raw/test.csv", "data/validated/test.parquet", "2" * 32),
        "metrics": METRICS,
        "validation": VALIDATION,
        "drift": DRIFT,
    }
    return CardFacts(**{**base, **changes})


def table_rows(card: str, after: str) -> dict[str, list[str]]:
    """The rows of the first table after the line `after`, by their first cell."""
    lines = card.splitlines()
    start = lines.index(after)
    rows: dict[str, list[str]] = {}
    in_table = False
    for line in lines[start + 1 :]:
        if line.startswith("|---"):
            continue
        if line.startswith("|"):
            in_table = True
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows[cells[0]] = cells[1:]
        elif in_table:
            break
    return rows


def card_numbers(card: str, metrics: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(what, the card's figure, the metrics file's) for every figure the card copies."""
    pairs: list[tuple[str, float, float]] = []
    quality = table_rows(card, "## Metrics")
    for name, (value,) in quality.items():
        if name != "metric":
            pairs.append((name, float(value), metrics[name]))
    fairness = metrics.get("fairness") or {}
    gaps = table_rows(card, "## Quantitative analyses: per group")
    for column, figures in fairness.items():
        parity, odds = gaps[column]
        pairs.append((f"{column} parity", float(parity), figures["demographic_parity_difference"]))
        pairs.append((f"{column} odds", float(odds), figures["equalized_odds_difference"]))
        heading = "### " + column.replace("|", "\\|")
        groups = table_rows(card, heading)
        for group in figures["selection_rate"]:
            rate, recall = groups[group]
            pairs.append((f"{column} {group} rate", float(rate), figures["selection_rate"][group]))
            pairs.append((f"{column} {group} recall", float(recall), figures["recall"][group]))
    return pairs


def test_the_card_has_every_section_in_order() -> None:
    card = render_card(facts())
    lines = card.splitlines()
    assert lines[0] == "# Model card"
    assert [line for line in lines if line.startswith("## ")] == SECTIONS


def test_the_cards_numbers_are_the_metrics_files() -> None:
    card = render_card(facts())
    pairs = card_numbers(card, METRICS)
    assert {"accuracy", "roc_auc", "sex parity", "group|col a|b rate"} <= {w for w, _, _ in pairs}
    assert len(pairs) == 5 + 2 * 2 + 2 * 3  # quality; gaps of 2 columns; 3 groups x 2
    for what, shown, recorded in pairs:
        assert shown == recorded, what
    assert table_rows(card, "## Model details")["size (bytes)"] == ["1234"]
    importance = table_rows(
        card, "Most important inputs (mean drop in roc_auc when the column is shuffled):"
    )
    assert list(importance)[1:] == ["capital_gain", "age"]  # most important first


def test_the_card_gives_the_data_rows_hashes_and_caveats() -> None:
    card = render_card(facts())
    train = table_rows(card, "## Training data")
    assert train["md5"] == [f"`{'1' * 32}`"]
    assert train["rows kept (valid)"] == ["98"] and train["quarantine share"] == ["0.02"]
    assert table_rows(card, "## Evaluation data")["source"] == ["`data/raw/test.csv`"]
    assert "share of columns drifted 0.25 (1 of 4): age." in card
    assert "train 0.02, test 0.0, current 0.1." in card
    assert "- Old data." in card and "- Teaching." in card


def test_a_card_without_a_model_card_section_says_what_is_not_stated() -> None:
    card = render_card(facts(about=None, drift=None))
    assert card.count(NOT_STATED) == 4  # summary, intended use, out of scope, ethics
    assert "Drift: not measured" in card
    assert [line for line in card.splitlines() if line.startswith("## ")] == SECTIONS


def test_an_undefined_figure_is_a_dash() -> None:
    """The stages write NaN as null (a group without positives has no recall)."""
    metrics = json.loads(json.dumps(METRICS))
    metrics["fairness"]["sex"]["recall"]["Female"] = None
    metrics["importance"]["age"] = None
    card = render_card(facts(metrics=metrics))
    assert table_rows(card, "### sex")["Female"] == ["0.082273", "–"]
    importance = table_rows(
        card, "Most important inputs (mean drop in roc_auc when the column is shuffled):"
    )
    assert list(importance)[1:] == ["capital_gain", "age"] and importance["age"] == ["–"]


def test_a_card_without_sensitive_columns_says_so() -> None:
    plain = {key: value for key, value in METRICS.items() if key != "fairness"}
    card = render_card(facts(metrics=plain))
    assert "No sensitive columns are declared" in card


def test_model_card_params_refuse_what_a_card_cannot_hold() -> None:
    with pytest.raises(StageError, match=r"unknown key\(s\) \['intended_uses'\] in 'model_card'"):
        parse(ModelCardParams, {"intended_uses": ["x"]})
    with pytest.raises(
        StageError, match=r"'model_card.caveats' item 1 is 501 characters long; at most 500"
    ):
        parse(ModelCardParams, {"caveats": ["x" * 501]})
    with pytest.raises(StageError, match=r"'model_card.summary' must be non-empty text"):
        parse(ModelCardParams, {"summary": 3})
    assert parse(ModelCardParams, {"caveats": "one\nline"}).caveats == ("one line",)


def test_the_repositorys_card_is_its_metrics_and_lock() -> None:
    """The committed card copies the committed metrics, digit for digit, and names the files
    its stage read by the md5 dvc.lock records for them."""
    card = (REPO / "reports/model_card.md").read_text(encoding="utf-8")
    metrics = json.loads((REPO / "metrics/metrics.json").read_text(encoding="utf-8"))
    pairs = card_numbers(card, metrics)
    assert len(pairs) > 8
    for what, shown, recorded in pairs:
        assert shown == recorded, what
    lock = yaml.safe_load((REPO / "dvc.lock").read_text(encoding="utf-8"))
    deps = {dep["path"]: dep["md5"] for dep in lock["stages"]["model_card"]["deps"]}
    assert table_rows(card, "## Model details")["md5"] == [f"`{deps['models/model.skops']}`"]
    for title, path in [
        ("## Training data", "data/validated/train.parquet"),
        ("## Evaluation data", "data/validated/test.parquet"),
    ]:
        assert table_rows(card, title)["md5"] == [f"`{deps[path]}`"]


def test_reading_bad_reports_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "metrics.json"
    broken.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(StageError, match=r"metrics.json: expected a JSON object, got list"):
        read_report(broken)
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(StageError, match=r"metrics.json: not valid JSON"):
        read_report(broken)
    with pytest.raises(StageError, match=r"absent.json: cannot read"):
        read_report(tmp_path / "absent.json")
    with pytest.raises(StageError, match=r"absent.bin: cannot read"):
        file_md5(tmp_path / "absent.bin")


def test_the_stage_writes_the_card_and_fails_in_one_line(tmp_path: Path) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    for name, content in [
        ("metrics.json", METRICS),
        ("validation.json", VALIDATION),
        ("drift.json", DRIFT),
    ]:
        (tmp_path / name).write_text(json.dumps(content), encoding="utf-8")
    for name in ("model.skops", "train.parquet", "test.parquet"):
        (tmp_path / name).write_bytes(name.encode())
    args = [
        *("--model", "model.skops", "--train", "train.parquet", "--test", "test.parquet"),
        *("--metrics", "metrics.json", "--validation", "validation.json"),
        *("--drift", "absent.json", "--card", "card.md"),
    ]
    done = run_stage("model_card", args, tmp_path, params)
    assert done.returncode == 0, done.stderr
    card = (tmp_path / "card.md").read_text(encoding="utf-8")
    assert "Drift: not measured" in card  # no drift metrics: said, not failed
    assert file_md5(tmp_path / "model.skops") in card
    assert params["model_card"]["intended_use"][1] in card

    params["model_card"] = None  # `model_card:` with nothing after it: nothing stated
    assert run_stage("model_card", args, tmp_path, params).returncode == 0
    assert NOT_STATED in (tmp_path / "card.md").read_text(encoding="utf-8")

    (tmp_path / "metrics.json").write_text("[]", encoding="utf-8")
    failed = run_stage("model_card", args, tmp_path, params)
    assert failed.returncode != 0
    assert (
        failed.stderr.strip()
        .splitlines()[-1]
        .endswith("metrics.json: expected a JSON object, got list")
    )
    assert "Traceback" not in failed.stderr and not (tmp_path / "card.md").exists()


def test_the_training_data_names_the_labelled_batches_it_appended() -> None:
    train = DataFile("data/raw/train.csv", "data/validated/train.parquet", "1" * 32)
    plain = table_rows(render_card(facts(train=train)), "## Training data")
    assert "labelled batches appended" not in plain
    grown = DataFile(train.source, train.path, train.md5, ("2027-01", "2027-02"))
    rows = table_rows(render_card(facts(train=grown)), "## Training data")
    assert rows["labelled batches appended"][0].startswith("`2027-01`, `2027-02`")
    assert rows["source"] == ["`data/raw/train.csv`"]
