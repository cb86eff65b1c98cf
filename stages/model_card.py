"""model_card: the card of the evaluated model, in Markdown, after Mitchell et al., "Model
Cards for Model Reporting" (FAT* 2019): model details, intended use, factors, metrics,
evaluation data, training data, quantitative analyses, ethical considerations, caveats.

What only people can say (intended use, limits) comes from the optional `model_card:`
section of params.yaml; everything else is what the pipeline wrote, copied as written:
metrics/metrics.json's numbers (the tests check the card's numbers equal the file's), the
data's row counts and quarantine shares from the validation report, the drift share from
the drift metrics, and the md5 of every file the stage read, as dvc.lock records them.

No gate is listed: gates are policy (no stage reads `gates:`, so editing them reruns
nothing); `mlgate show <version> --format md` prints this card with the verdict of every
gate the release was judged by, from its lineage.

A stage of its own, not part of evaluate: it reads the drift and validation reports too, and
costs a fraction of a second, so a new monitoring batch or an edited card reruns only this.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.common import Progress, StageError, removed_on_failure, run_stage, writing
from stages.params import (
    EvaluateParams,
    IngestParams,
    ModelCardParams,
    SchemaParams,
    TrainParams,
    load,
    load_optional,
)

SECTION = "model_card"
NOT_STATED = "_Not stated: add it to the `model_card:` section of params.yaml._"
QUALITY = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier",
)
GATES = (
    "## Quality gates",
    "",
    "Judged when a release is made, not here: params.yaml `gates:` is policy, which no stage "
    "reads. `mlgate show <version|stage> --format md` prints this card with the verdict of "
    "every gate the release was judged by, and its baseline.",
    "",
)
MB = 1 << 20
MAX_REPORT_BYTES = 16 * MB  # the JSON reports it reads: the pipeline's, but still bounded


@dataclass(frozen=True)
class DataFile:
    """A split the model was trained or evaluated on."""

    source: str  # what ingest read (params.yaml ingest.<split>_source)
    path: str  # the validated file this stage read
    md5: str  # of that file, as dvc.lock records it
    # labelled production batches ingest appended (ingest.train_batches, in its window)
    batches: tuple[str, ...] = ()


@dataclass(frozen=True)
class CardFacts:
    """Everything a card says, read by main(); render_card only formats it."""

    about: ModelCardParams | None  # None: params.yaml has no model_card section
    model_path: str
    model_md5: str
    model_family: str  # params.yaml train.model
    target: str
    labels: tuple[str, ...]
    positive_label: str
    threshold: float
    train: DataFile
    test: DataFile
    metrics: Mapping[str, Any]  # metrics/metrics.json
    validation: Mapping[str, Any]  # reports/validation.json
    drift: Mapping[str, Any] | None  # metrics/drift.json; None when there is none


def number(value: Any) -> str:
    """A metric as the metrics file writes it (the stages round to 6 decimals there), so the
    card's figures are the file's, digit for digit."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–" if value is None else cell(str(value))
    return repr(value)


def _sortable(value: Any) -> float:
    """A figure to rank by; an undefined one (null in the file) last."""
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if numeric else float("-inf")


def cell(text: str) -> str:
    """Text from the data (a category, a column name) safe in a Markdown table cell."""
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|").replace("`", "'")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _items(lines: Sequence[str]) -> list[str]:
    return [f"- {line}" for line in lines] if lines else [NOT_STATED]


def _split(validation: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    splits = validation.get("splits")
    found = splits.get(name) if isinstance(splits, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _data_section(title: str, data: DataFile, split: Mapping[str, Any]) -> list[str]:
    rows = [["source", f"`{cell(data.source)}`"]]
    if data.batches:
        rows.append(
            [
                "labelled batches appended",
                ", ".join(f"`{cell(batch)}`" for batch in data.batches)
                + " (data/labelled/<id>.parquet, ingest.train_batches)",
            ]
        )
    rows += [
        ["file read", f"`{cell(data.path)}`"],
        ["md5", f"`{data.md5}`"],
        ["rows read", number(split.get("rows"))],
        ["rows kept (valid)", number(split.get("valid_rows"))],
        ["rows quarantined", number(split.get("quarantined_rows"))],
        ["quarantine share", number(split.get("quarantine_share"))],
    ]
    return [f"## {title}", "", *_table(["", ""], rows), ""]


def _metrics_section(metrics: Mapping[str, Any], threshold: float) -> list[str]:
    rows = [[name, number(metrics[name])] for name in QUALITY if name in metrics]
    lines = [
        "## Metrics",
        "",
        f"On the evaluation data; the threshold metrics predict positive from a probability "
        f"of {number(threshold)} (params.yaml evaluate.threshold).",
        "",
        *_table(["metric", "value"], rows),
        "",
    ]
    importance = metrics.get("importance")
    if isinstance(importance, Mapping) and importance:
        ranked = sorted(importance.items(), key=lambda item: (-_sortable(item[1]), item[0]))
        lines += [
            "Most important inputs (mean drop in roc_auc when the column is shuffled):",
            "",
            *_table(["input", "importance"], [[cell(k), number(v)] for k, v in ranked]),
            "",
        ]
    return lines


def _fairness_section(fairness: Any) -> list[str]:
    lines = ["## Quantitative analyses: per group", ""]
    if not isinstance(fairness, Mapping) or not fairness:
        return [*lines, "No sensitive columns are declared (params.yaml schema.sensitive).", ""]
    lines += [
        "Gaps between the groups of each sensitive column (fairlearn's definitions: the "
        "largest between-group difference in selection rate, and the larger of those in "
        "true and false positive rate):",
        "",
        *_table(
            ["column", "demographic_parity_difference", "equalized_odds_difference"],
            [
                [
                    cell(column),
                    number(figures.get("demographic_parity_difference")),
                    number(figures.get("equalized_odds_difference")),
                ]
                for column, figures in sorted(fairness.items())
                if isinstance(figures, Mapping)
            ],
        ),
        "",
    ]
    for column, figures in sorted(fairness.items()):
        if not isinstance(figures, Mapping):
            continue
        rates = figures.get("selection_rate") or {}
        recalls = figures.get("recall") or {}
        groups = sorted({*rates, *recalls})
        lines += [
            f"### {cell(column)}",
            "",
            *_table(
                ["group", "selection_rate", "recall"],
                [[cell(g), number(rates.get(g)), number(recalls.get(g))] for g in groups],
            ),
            "",
        ]
    return lines


def _caveats_section(facts: CardFacts) -> list[str]:
    lines = ["## Caveats and recommendations", ""]
    lines += [f"- {line}" for line in facts.about.caveats] if facts.about else []
    drift = facts.drift
    if drift is None:
        lines.append("- Drift: not measured (no drift metrics).")
    else:
        columns = drift.get("columns")
        drifted = sorted(
            name
            for name, found in (columns.items() if isinstance(columns, Mapping) else [])
            if isinstance(found, Mapping) and found.get("drifted") is True
        )
        named = f": {', '.join(cell(name) for name in drifted)}" if drifted else ""
        lines.append(
            f"- Drift of the current batch from the training data: share of columns drifted "
            f"{number(drift.get('share_drifted'))} ({number(drift.get('n_drifted'))} of "
            f"{number(drift.get('n_columns'))}){named}."
        )
    shares = [
        f"{name} {number(_split(facts.validation, name).get('quarantine_share'))}"
        for name in ("train", "test", "current")
        if _split(facts.validation, name)
    ]
    lines.append(
        "- Quarantine share (rows failing the data contract, left out): "
        f"{', '.join(shares) or 'not reported'}."
    )
    return [*lines, ""]


def render_card(facts: CardFacts) -> str:
    """The model card of `facts`, in Markdown."""
    about = facts.about
    details = [
        ["model file", f"`{cell(facts.model_path)}`"],
        ["md5", f"`{facts.model_md5}`"],
        ["family", f"`{cell(facts.model_family)}` (params.yaml train.model)"],
        ["size (bytes)", number(facts.metrics.get("model_size_bytes"))],
        ["predicts", f"`{cell(facts.target)}` = `{cell(facts.positive_label)}`"],
        ["classes", ", ".join(f"`{cell(label)}`" for label in facts.labels)],
    ]
    if about and about.owners:
        details.append(["owners", cell("; ".join(about.owners))])
    lines = [
        "# Model card",
        "",
        about.summary if about and about.summary else NOT_STATED,
        "",
        "## Model details",
        "",
        *_table(["", ""], details),
        "",
        "## Intended use",
        "",
        *_items(about.intended_use if about else ()),
        "",
        "Out of scope:",
        "",
        *_items(about.out_of_scope if about else ()),
        "",
        "## Factors",
        "",
        "Groups the figures are broken down by (params.yaml schema.sensitive): "
        + (", ".join(f"`{cell(c)}`" for c in sorted(facts.metrics.get("fairness") or {})) or "none")
        + ".",
        "",
        *_metrics_section(facts.metrics, facts.threshold),
        *_data_section("Evaluation data", facts.test, _split(facts.validation, "test")),
        *_data_section("Training data", facts.train, _split(facts.validation, "train")),
    ]
    if about and about.data:
        lines += ["About the data:", "", *_items(about.data), ""]
    lines += _fairness_section(facts.metrics.get("fairness"))
    lines += [*GATES, "## Ethical considerations", ""]
    lines += [*_items(about.ethical_considerations if about else ()), ""]
    lines += _caveats_section(facts)
    return "\n".join(lines).rstrip("\n") + "\n"


# --- I/O ------------------------------------------------------------------------------------


def file_md5(path: str | Path) -> str:
    """The md5 of a file's bytes: what dvc.lock records for it."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(MB):
                digest.update(chunk)
    except OSError as exc:
        raise StageError(f"{path}: cannot read ({exc.strerror})") from exc
    return digest.hexdigest()


def read_report(path: str | Path) -> dict[str, Any]:
    """A JSON report of the pipeline (metrics, validation, drift), as a mapping."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise StageError(f"{path}: cannot read ({exc.strerror})") from exc
    if len(data) > MAX_REPORT_BYTES:
        raise StageError(f"{path}: larger than {MAX_REPORT_BYTES // MB} MB; not a report")
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise StageError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(parsed, dict):
        raise StageError(f"{path}: expected a JSON object, got {type(parsed).__name__}")
    return parsed


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m stages.model_card")
    for name in ("model", "train", "test", "metrics", "validation", "drift", "card"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args(argv)
    progress = Progress(SECTION)
    with removed_on_failure([args.card]):
        schema, ingest = load(SchemaParams), load(IngestParams)
        drift = read_report(args.drift) if Path(args.drift).exists() else None
        facts = CardFacts(
            load_optional(ModelCardParams),
            args.model,
            file_md5(args.model),
            load(TrainParams).model,
            schema.target,
            schema.labels,
            schema.positive_label,
            load(EvaluateParams).threshold,
            DataFile(
                ingest.source("train"),
                args.train,
                file_md5(args.train),
                tuple(ingest.batches_in_window),
            ),
            DataFile(ingest.source("test"), args.test, file_md5(args.test)),
            read_report(args.metrics),
            read_report(args.validation),
            drift,
        )
        with writing(args.card) as target:
            target.write_text(render_card(facts), encoding="utf-8")
    progress(f"wrote {args.card}")


if __name__ == "__main__":
    run_stage(SECTION, main)
