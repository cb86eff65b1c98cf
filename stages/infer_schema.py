"""Infer the data contract, params.yaml's `schema:` section, from a data file.

    python -m stages.infer_schema [DATA ...] --target COLUMN [--positive-label LABEL]
        [--sensitive a,b] [--margin 0.1] [--params params.yaml] [--write]

DATA (default: `ingest.train_source` and `ingest.test_source`, the labelled splits every
row of which validate checks) is read exactly as the ingest stage reads it, with
params.yaml's `ingest:` settings, so the names and values are the ones validate will see.
Inferred from train alone, the bounds would quarantine the test rows in a long tail.
pandera's own inference (`pandera.infer_schema`) reads the types, the numeric ranges, the
categories and the nullability; this module only translates its result into the format
`stages.params.SchemaParams` accepts:

- a numeric column gets the observed range widened by `margin` times its width on each side
  (never below 0 for a column with no negative value; whole numbers for an integer column),
- a text column becomes categorical with its observed values (sorted),
- a column with a missing value is `nullable: true`,
- the target's two values are the labels, the positive one last.

The section is printed (or, with `--write`, replaces `schema:` in the params file) and is
checked first: it parses as SchemaParams and validates DATA with no row quarantined.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from stages.common import PARAMS_FILE, StageError, run_stage, shorten
from stages.paramsfile import section_text, write_section

if TYPE_CHECKING:
    import pandas as pd

SECTION = "schema"
DEFAULT_MARGIN = 0.1  # of each numeric column's observed range, on each side
MANY_CATEGORIES = 100  # more distinct values than this: an ID or free text, probably
# With no --positive-label, the label that is "the event" when the target holds one of these pairs
USUAL_POSITIVES = {
    frozenset({"0", "1"}): "1",
    frozenset({"no", "yes"}): "yes",
    frozenset({"false", "true"}): "true",
    frozenset({"n", "y"}): "y",
}


def _digits_step(span: float) -> Decimal:
    """The rounding step for a bound: four significant digits of the column's range."""
    return Decimal(1).scaleb(math.floor(math.log10(span)) - 3) if span > 0 else Decimal(1)


def _outward(value: float, step: Decimal, rounding: str) -> int | float:
    rounded = (Decimal(repr(value)) / step).to_integral_value(rounding=rounding) * step
    return int(rounded) if rounded == rounded.to_integral_value() else float(rounded)


def numeric_bounds(low: float, high: float, margin: float, whole: bool) -> dict[str, int | float]:
    """The observed [low, high] widened by `margin` of its width on each side, rounded
    outward (to whole numbers for `whole` columns, else to four significant digits of the
    width); a column with no negative value gets no negative bound."""
    low, high = float(low), float(high)
    pad = (high - low) * margin
    step = Decimal(1) if whole else _digits_step(high - low)
    floor = _outward(low - pad, step, ROUND_FLOOR)
    ceiling = _outward(high + pad, step, ROUND_CEILING)
    if low >= 0 > floor:
        floor = 0
    # decimal rounding is exact, float conversion may not be: never cut an observed value off
    return {"min": min(floor, _plain(low)), "max": max(ceiling, _plain(high))}


def _plain(value: Any) -> int | float:
    """A numpy or Python number as the Python int or float YAML writes."""
    number = value.item() if hasattr(value, "item") else value
    return int(number) if isinstance(number, bool) else number


def _as_label(value: Any) -> int | str:
    """A target value as params.yaml writes a label: whole numbers as numbers (0/1 labels;
    validate reads the data's 0 and 1 as them), anything else as text."""
    number = _plain(value)
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number if isinstance(number, int) else str(number)


def _positive(labels: list[int | str], target: str, chosen: str | None) -> int | str:
    by_text = {str(label): label for label in labels}
    if chosen is not None:
        if chosen not in by_text:
            raise StageError(
                f"--positive-label {chosen!r} is not a value of '{target}' ({sorted(by_text)})"
            )
        return by_text[chosen]
    usual = USUAL_POSITIVES.get(frozenset(text.lower() for text in by_text))
    match = [label for text, label in by_text.items() if text.lower() == usual]
    if len(match) != 1:
        raise StageError(
            f"'{target}' holds {sorted(by_text)}: say which is the positive class "
            "with --positive-label"
        )
    return match[0]


def _for_inference(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """`frame` with the text columns and the target as pandas categories, which pandera
    infers an `isin` check for (it infers none for plain text)."""
    import pandas as pd

    result = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(
            values.dtype
        ):
            raise StageError(
                f"column '{column}' has type {values.dtype}: the contract has numeric and "
                "text columns only; convert it in the file or list it in ingest.drop_columns"
            )
        if values.notna().sum() == 0:
            raise StageError(
                f"column '{column}' has no value at all; list it in ingest.drop_columns"
            )
        if column == target or not pd.api.types.is_numeric_dtype(values.dtype):
            text = values if column == target else values.map(str, na_action="ignore")
            result[column] = text.astype("category")
    return result


def infer_contract(
    frame: pd.DataFrame,
    target: str,
    positive_label: str | None = None,
    sensitive: Sequence[str] = (),
    margin: float = DEFAULT_MARGIN,
) -> dict[str, Any]:
    """The `schema:` section for `frame` (as ingest wrote it), as params.yaml writes it.
    Pure: `frame` is not changed. A StageError says what cannot be inferred."""
    import pandas as pd
    import pandera.pandas as pa

    if target not in frame.columns:
        raise StageError(f"no column '{target}' (the target); the columns: {list(frame.columns)}")
    if frame[target].isna().any():
        row = int(frame[target].isna().to_numpy().argmax()) + 1
        raise StageError(f"'{target}' (the target) is missing at row {row}: label every row")
    if not margin >= 0:
        raise StageError(f"--margin must be >= 0, got {margin}")
    inferred = pa.infer_schema(_for_inference(frame, target))
    numeric: dict[str, dict[str, Any]] = {}
    categorical: dict[str, dict[str, Any]] = {}
    labels: list[int | str] = []
    for name, column in inferred.columns.items():
        statistics = {check.name: check.statistics for check in column.checks}
        nullable = {"nullable": True} if column.nullable else {}
        if name == target:
            labels = [_as_label(value) for value in statistics["isin"]["allowed_values"]]
        elif "isin" in statistics:
            values = [str(value) for value in statistics["isin"]["allowed_values"]]
            if len(values) > MANY_CATEGORIES:
                print(
                    f"infer_schema: warning: column '{name}' has {len(values):,} distinct values "
                    "(an ID or free text?): list it in ingest.drop_columns if so",
                    file=sys.stderr,
                )
            categorical[str(name)] = {**nullable, "values": values}
        else:
            low = statistics["greater_than_or_equal_to"]["min_value"]
            high = statistics["less_than_or_equal_to"]["max_value"]
            if not (math.isfinite(low) and math.isfinite(high)):
                raise StageError(f"column '{name}' holds an infinite value: no bound fits it")
            whole = pd.api.types.is_integer_dtype(frame[name].dtype) or bool(
                (frame[name].dropna() % 1 == 0).all()
            )
            numeric[str(name)] = {**numeric_bounds(low, high, margin, whole), **nullable}
    if len(labels) != 2:
        shown = shorten(str(sorted(map(str, labels))), 200)
        raise StageError(
            f"'{target}' (the target) has {len(labels)} distinct values {shown}; the pipeline "
            "trains a binary classifier: map them to two classes first"
        )
    positive = _positive(labels, target, positive_label)
    not_categorical = [column for column in sensitive if column not in categorical]
    if not_categorical:
        raise StageError(f"--sensitive {not_categorical}: not text (categorical) columns")
    return {
        "target": target,
        "labels": [label for label in labels if label != positive] + [positive],
        "positive_label": positive,
        "sensitive": list(sensitive),
        "numeric": numeric,
        "categorical": categorical,
    }


def check_round_trip(contract: Mapping[str, Any], frame: pd.DataFrame) -> None:
    """`contract` parses as SchemaParams and validates `frame` with no row quarantined; a
    StageError otherwise (a bug here, not the user's)."""
    from stages.params import SchemaParams, ValidateParams, parse
    from stages.validate import validate_split

    schema = parse(SchemaParams, contract)
    limits = parse(
        ValidateParams,
        {"min_rows": 1, "max_duplicate_share": 1, "max_quarantine_share": 0, "sample_failures": 1},
    )
    result = validate_split(frame, schema, limits, "train")
    if result.error or result.report["quarantined_rows"]:  # pragma: no cover - a bug
        raise StageError(f"the inferred schema does not validate its own data: {result.error}")


def read_data(sources: Sequence[str], params_file: str) -> tuple[list[str], pd.DataFrame]:
    """The files (default: the train and test sources) as ingest reads them, with the params
    file's `ingest:` settings, one after the other."""
    import pandas as pd

    from stages.ingest import ingest
    from stages.params import IngestParams, load

    settings = load(IngestParams, params_file)
    chosen = list(dict.fromkeys(sources or [settings.train_source, settings.test_source]))
    frames = [ingest(source, settings) for source in chosen]
    for source, frame in zip(chosen[1:], frames[1:], strict=True):
        if list(frame.columns) != list(frames[0].columns):
            raise StageError(
                f"{source}: columns {list(frame.columns)} differ from {chosen[0]}'s "
                f"{list(frames[0].columns)}"
            )
    return chosen, pd.concat(frames, ignore_index=True)


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m stages.infer_schema",
        description="Print the schema: section of params.yaml inferred from a data file.",
    )
    parser.add_argument(
        "data",
        nargs="*",
        help="labelled CSV or parquet files (default: the train and test sources)",
    )
    parser.add_argument("--target", required=True, help="the label column")
    parser.add_argument("--positive-label", help="the positive class (default: 1, yes, true)")
    parser.add_argument("--sensitive", default="", help="comma-separated columns for fairness")
    parser.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN,
        help=f"numeric bounds widened by this share of the range (default {DEFAULT_MARGIN})",
    )
    parser.add_argument("--params", default=PARAMS_FILE, help="its ingest: settings are used")
    parser.add_argument("--write", action="store_true", help="replace schema: in --params")
    args = parser.parse_args(argv)
    sources, frame = read_data(args.data, args.params)
    sensitive = [name.strip() for name in args.sensitive.split(",") if name.strip()]
    contract = infer_contract(frame, args.target, args.positive_label, sensitive, args.margin)
    check_round_trip(contract, frame)
    comment = (
        f"Inferred by stages.infer_schema from {', '.join(sources)} ({len(frame):,} rows);\n"
        "numeric bounds"
        f" widened by {args.margin:g} of each column's range. Review it: it is the data contract."
    )
    text = section_text(SECTION, contract, comment)
    if args.write:
        write_section(args.params, SECTION, text)
        print(f"infer_schema: wrote the schema: section of {args.params}", file=sys.stderr)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    run_stage("infer_schema", main)
