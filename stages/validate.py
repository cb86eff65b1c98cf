"""Stage validate: check every split against the declared schema (stages/schema.py).

Schema-level failures (a missing, extra or renamed column, a wrong type, too few rows, too many
duplicates) fail the stage. Row-level failures (a missing value where none is allowed, a value
out of range, an unknown category or label, a non-numeric value in a numeric column) move the
row to quarantine while they stay within `validate.max_quarantine_share`, and fail the stage
above it. The JSON report is written either way; the validated data only on success.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from stages.common import (
    Progress,
    StageError,
    remove_outputs,
    removed_on_failure,
    run_stage,
    shorten,
    write_json,
    writing,
)
from stages.params import SchemaParams, ValidateParams, load
from stages.schema import build_schema
from stages.splits import read_split, split_source

SECTION = "validate"
NUMERIC_CHECK = "numeric"
FAILED_CHECKS_COLUMN = "failed_checks"
# A quarantined row's 1-based data row in the file ingest read (header, blank and comment
# lines not counted), as the report's samples and the errors number rows.
SOURCE_ROW_COLUMN = "source_row"
_SCHEMA_MESSAGES = {
    "column_in_schema": "unexpected column '{case}' (not in the schema; renamed?)",
    "column_in_dataframe": "missing column '{case}'",
}


@dataclass(frozen=True)
class SplitResult:
    valid: pd.DataFrame
    quarantined: pd.DataFrame
    report: dict[str, Any]

    @property
    def error(self) -> str | None:
        return self.report["error"]


def _numeric_type_error(column: str, values: pd.Series) -> str | None:
    """Why `values` cannot be a numeric column at all, or None when it may be one.

    Numbers pass; text is parsed value by value (see coerce_numeric). Booleans, dates and
    durations would convert to numbers silently (True -> 1, a date -> nanoseconds), so
    their type is an error.
    """
    dtype = values.dtype
    text = pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
    number = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if text or number:
        return None
    return f"column '{column}' has type {dtype}, expected numeric"


def coerce_numeric(
    frame: pd.DataFrame, columns: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Numeric columns as float64; values that are not numbers become row failures.

    Returns the coerced frame, the failures (column, check, failure_case, index) and the
    schema-level errors by column, for columns of a wrong type (booleans, dates) or where no
    value at all is numeric; those columns are left as they are.
    """
    coerced = frame.copy()
    failures = []
    wrong_type: dict[str, str] = {}
    for column in columns:
        if column not in frame.columns:
            continue
        original = frame[column]
        type_error = _numeric_type_error(column, original)
        if type_error:
            wrong_type[column] = type_error
            continue
        numbers = pd.to_numeric(original, errors="coerce")
        bad = original.notna() & numbers.isna()
        if bad.any() and bad.sum() == original.notna().sum():
            position = int(bad.to_numpy().argmax())
            wrong_type[column] = (
                f"column '{column}' has type {original.dtype}, expected numeric "
                f"(row {position + 1}: {shorten(str(original.iloc[position]))!r})"
            )
            continue
        if bad.any():
            failures.append(
                pd.DataFrame(
                    {
                        "column": column,
                        "check": NUMERIC_CHECK,
                        "failure_case": original[bad].astype(str),
                        "index": original.index[bad],
                    }
                )
            )
        coerced[column] = numbers.astype("float64")
    failure_frame = (
        pd.concat(failures, ignore_index=True)
        if failures
        else pd.DataFrame(columns=["column", "check", "failure_case", "index"])
    )
    return coerced, failure_frame, wrong_type


def _whole_number(text: str) -> bool:
    return text.removeprefix("-").isdigit()


def numbers_as_codes(frame: pd.DataFrame, declared: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Text columns whose declared values are all whole numbers ("0", "1": labels or category
    codes) may hold those numbers as numbers: a CSV's 0/1 labels read as integers, or as
    floats when a value is missing. Such a column becomes the same values as text, written
    as the contract writes them ("1", not "1.0"), missing left missing. Anything else stays
    as it is, so a number where words are declared, or 0.5 where codes are, is still a
    column of the wrong type. `frame` is not changed."""
    result = frame
    for column, values in declared.items():
        if column not in frame.columns or not all(map(_whole_number, values)):
            continue
        original = frame[column]
        dtype = original.dtype
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            continue
        present = original.dropna()
        exact = np.isfinite(present) & (present.abs() < 2**53)  # int64 holds it exactly
        if not (exact.all() and (present == present.round()).all()):
            continue
        text = present.astype("int64").astype(str).astype(object)
        if result is frame:
            result = frame.copy()
        result[column] = text.reindex(original.index).where(original.notna(), None)
    return result


def schema_failures(
    frame: pd.DataFrame, schema: pa.DataFrameSchema
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the schema lazily; returns the pandera failure cases and the coerced frame."""
    try:
        return pd.DataFrame(columns=["column", "check", "failure_case", "index"]), schema.validate(
            frame, lazy=True
        )
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases[["column", "check", "failure_case", "index"]].copy()
        return cases, frame


def describe_schema_failure(case: Mapping[str, Any], frame: pd.DataFrame) -> str:
    check, column, value = str(case["check"]), case["column"], case["failure_case"]
    if check in _SCHEMA_MESSAGES:
        return _SCHEMA_MESSAGES[check].format(case=value)
    if check.startswith("dtype(") and isinstance(column, str) and column in frame.columns:
        expected = "text" if "str" in check else check[6:-1].strip("'")
        return f"column '{column}' has type {frame[column].dtype}, expected {expected}"
    if check == "max_duplicate_share":
        share = frame.duplicated().mean() if len(frame) else 0.0
        return f"{share:.2%} of rows are duplicates, above validate.max_duplicate_share"
    where = f"column '{column}' " if isinstance(column, str) else ""
    return f"{where}fails {check}: {value}"


@dataclass(frozen=True)
class RowChecks:
    """What the contract says of a frame's rows, before any decision about the split."""

    coerced: pd.DataFrame  # numeric columns as float64
    validated: pd.DataFrame  # pandera's output where the frame passed, else `coerced`
    row_cases: pd.DataFrame  # column, check, failure_case, index, key; by row, then key
    schema_errors: list[str]  # failures of whole columns or of the frame, one line each


def check_rows(
    frame: pd.DataFrame, contract: SchemaParams, limits: ValidateParams, labelled: bool
) -> RowChecks:
    """Run the data contract on `frame`; pure. A scoring batch is checked the same way
    (stages/score.py), chunk by chunk, with its own decisions about shares and row counts."""
    schema = build_schema(contract, limits, labelled=labelled)
    declared_text = {name: spec.values for name, spec in contract.categorical.items()}
    coded = numbers_as_codes(frame, {**declared_text, contract.target: contract.labels})
    coerced, numeric_cases, wrong_type = coerce_numeric(coded, list(contract.numeric))
    cases, validated = schema_failures(coerced, schema)
    # A column of the wrong type is one error (a property of the column, even when pandera
    # lists it row by row): not also each value check pandera ran on it.
    # coerce_numeric reported its columns already; pandera's dtype case reports the others.
    is_dtype = cases["check"].astype(str).str.startswith("dtype(")
    reported = cases["column"].isin(list(wrong_type))
    mistyped = cases["column"].isin(list(cases.loc[is_dtype, "column"]))
    cases = cases[~reported & (is_dtype | ~mistyped)]
    is_row = cases["index"].notna() & ~cases["check"].astype(str).str.startswith("dtype(")
    schema_errors = list(wrong_type.values()) + [
        describe_schema_failure(case, coerced)
        for case in cases[~is_row].drop_duplicates(["column", "check"]).to_dict("records")
    ]
    # A non-numeric value already counts once; pandera's "not_nullable" for it is redundant.
    row_cases = pd.concat([numeric_cases, cases[is_row]], ignore_index=True)
    if len(numeric_cases):
        redundant = row_cases["check"].eq("not_nullable") & row_cases.set_index(
            ["column", "index"]
        ).index.isin(numeric_cases.set_index(["column", "index"]).index)
        row_cases = row_cases[~redundant]
    row_cases = row_cases.assign(
        index=row_cases["index"].astype("int64"),
        key=row_cases["column"].astype(str) + ": " + row_cases["check"].astype(str),
    ).sort_values(["index", "key"], kind="stable")
    return RowChecks(coerced, validated, row_cases, schema_errors)


def quarantine(frame: pd.DataFrame, row_cases: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Which rows of `frame` pass (a boolean mask), and the others as quarantine writes them:
    with their 1-based row in `frame` and the checks each one failed."""
    keep = ~frame.index.isin(pd.Index(row_cases["index"].unique()))
    quarantined = frame.loc[~keep].assign(
        **{
            SOURCE_ROW_COLUMN: np.flatnonzero(~keep) + 1,
            FAILED_CHECKS_COLUMN: row_cases.groupby("index")["key"]
            .agg(lambda keys: "; ".join(dict.fromkeys(keys)))
            .reindex(frame.index[~keep])
            .to_numpy(),
        }
    )
    return keep, quarantined


def validate_split(
    frame: pd.DataFrame, contract: SchemaParams, limits: ValidateParams, split: str
) -> SplitResult:
    """Validate one split; pure (the report says what happened, nothing is written)."""
    max_quarantine_share, sample_failures = limits.max_quarantine_share, limits.sample_failures
    min_rows_key, min_rows = limits.min_rows_of(split)
    checked = check_rows(frame, contract, limits, labelled=split != "current")
    coerced, validated, row_cases = checked.coerced, checked.validated, checked.row_cases
    schema_errors = list(checked.schema_errors)
    bad_rows = pd.Index(row_cases["index"].unique())
    share = len(bad_rows) / len(frame) if len(frame) else 0.0
    counts = row_cases["key"].value_counts().sort_index()
    samples = {
        key: [
            {"row": int(i) + 1, "value": shorten(str(v))}
            for i, v in zip(
                group["index"].head(sample_failures),
                group["failure_case"].head(sample_failures),
                strict=True,
            )
        ]
        for key, group in row_cases.groupby("key", sort=True)
    }
    error = None
    if schema_errors:
        error = "; ".join(dict.fromkeys(schema_errors))
    elif share > max_quarantine_share:
        first = row_cases.iloc[0]
        error = (
            f"{len(bad_rows)} of {len(frame)} rows ({share:.2%}) fail row-level checks, above "
            f"validate.max_quarantine_share={max_quarantine_share}; first: row "
            f"{int(first['index']) + 1}, {first['key']}, "
            f"value {shorten(str(first['failure_case']))!r}"
        )
    elif len(frame) - len(bad_rows) < min_rows:  # what is left is what gets used
        held = f" ({len(bad_rows)} quarantined)" if len(bad_rows) else ""
        error = (
            f"{len(frame) - len(bad_rows)} valid rows{held}, fewer than {min_rows_key}={min_rows}"
        )
        schema_errors.append(error)
    keep, quarantined = quarantine(frame, row_cases)
    valid = validated if error is None else coerced
    report = {
        "rows": len(frame),
        "valid_rows": int(keep.sum()),
        "quarantined_rows": len(bad_rows),
        "quarantine_share": share,
        "failures": {str(k): int(v) for k, v in counts.items()},
        "samples": samples,
        "schema_errors": list(dict.fromkeys(schema_errors)),
        "passed": error is None,
        "error": error,
    }
    return SplitResult(valid.loc[keep].reset_index(drop=True), quarantined, report)


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inputs", nargs=3, required=True, help="train, test, current parquet")
    parser.add_argument("--outputs", nargs=3, required=True, help="validated train, test, current")
    parser.add_argument("--quarantine", required=True, help="folder for quarantined rows")
    parser.add_argument("--report", required=True, help="JSON validation report")
    args = parser.parse_args(argv)
    progress = Progress(SECTION)
    remove_outputs([*args.outputs, args.quarantine, args.report])  # bad params: none left
    contract, limits = load(SchemaParams), load(ValidateParams)
    results = {}
    for split, source in zip(("train", "test", "current"), args.inputs, strict=True):
        frame = read_split(source)
        results[split] = validate_split(frame, contract, limits, split)
        report = results[split].report
        progress(
            f"{split}: {report['valid_rows']:,} valid, {report['quarantined_rows']:,} quarantined"
        )
    failed = {split: r.error for split, r in results.items() if r.error}
    write_json(
        args.report, {"passed": not failed, "splits": {s: r.report for s, r in results.items()}}
    )
    if failed:
        split, error = next(iter(failed.items()))
        source = args.inputs[list(results).index(split)]
        origin = split_source(source)  # rows are numbered as in the file ingest read
        where = f"{source} (rows of {origin})" if origin else source
        raise StageError(f"{where}: {error} (report: {args.report})")
    quarantine_dir = Path(args.quarantine)
    with removed_on_failure([*args.outputs, args.quarantine]):
        for (split, result), target in zip(results.items(), args.outputs, strict=True):
            with writing(target) as valid:
                result.valid.to_parquet(valid, index=False)
            with writing(quarantine_dir / f"{split}.parquet") as quarantined:
                result.quarantined.to_parquet(quarantined, index=False)


if __name__ == "__main__":
    run_stage(SECTION, main)
