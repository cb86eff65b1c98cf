"""drift: compare the current batch with the training reference, column by column.

Numeric columns: two-sample Kolmogorov-Smirnov (statistic = D, in [0, 1]). Categorical
columns: chi-square test of homogeneity over the categories (missing counted as one),
statistic = chi-square. Both also get the population stability index (PSI) over bins fixed
by the reference (numeric: reference quantiles; categorical: the categories).

A column is drifted when the shift is both significant (p_value < `drift.p_value`) and
large enough to matter (psi >= `drift.psi`): on large batches tests flag negligible shifts,
and PSI alone ignores sample size.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from stages.common import Progress, StageError, removed_on_failure, run_stage, write_json
from stages.params import DriftParams, SchemaParams, load
from stages.splits import read_split, require_columns, require_types

SECTION = "drift"
EPSILON = 1e-4  # floor for an empty bin's share, so PSI stays finite
MISSING = "__missing__"


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins."""
    expected = np.maximum(reference_counts / max(reference_counts.sum(), 1), EPSILON)
    actual = np.maximum(current_counts / max(current_counts.sum(), 1), EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def numeric_drift(reference: pd.Series, current: pd.Series, bins: int) -> dict[str, float]:
    from scipy.stats import ks_2samp

    ref = reference.dropna().to_numpy(dtype=float)
    cur = current.dropna().to_numpy(dtype=float)
    if len(ref) == 0 or len(cur) == 0:
        raise StageError(f"column '{reference.name}': no values to compare")
    test = ks_2samp(ref, cur)
    inner_edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_counts = np.bincount(
        np.searchsorted(inner_edges, ref, side="right"), minlength=len(inner_edges) + 1
    )
    cur_counts = np.bincount(
        np.searchsorted(inner_edges, cur, side="right"), minlength=len(inner_edges) + 1
    )
    return {
        "statistic": float(test.statistic),
        "p_value": float(test.pvalue),
        "psi": psi(ref_counts, cur_counts),
    }


def categorical_drift(reference: pd.Series, current: pd.Series) -> dict[str, float]:
    from scipy.stats import chi2_contingency

    ref_counts = reference.astype("object").fillna(MISSING).value_counts()
    cur_counts = current.astype("object").fillna(MISSING).value_counts()
    categories = sorted(set(ref_counts.index) | set(cur_counts.index))
    table = np.array(
        [
            ref_counts.reindex(categories, fill_value=0).to_numpy(),
            cur_counts.reindex(categories, fill_value=0).to_numpy(),
        ],
        dtype=float,
    )
    if len(categories) < 2:
        statistic, p_value = 0.0, 1.0  # one category on both sides: nothing can shift
    else:
        result = chi2_contingency(table, correction=False)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return {"statistic": statistic, "p_value": p_value, "psi": psi(table[0], table[1])}


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    schema: SchemaParams,
    params: DriftParams,
    sources: tuple[str, str] = ("reference", "current"),
) -> dict[str, Any]:
    """Per-column drift and the share of drifted columns."""
    numeric, categorical = list(schema.numeric), list(schema.categorical)
    for frame, source in zip((reference, current), sources, strict=True):
        require_columns(frame, numeric + categorical, source)
        require_types(frame, numeric, categorical, source)
    columns: dict[str, dict[str, Any]] = {}
    for column in numeric + categorical:
        try:
            if column in numeric:
                result = numeric_drift(reference[column], current[column], params.psi_bins)
            else:
                result = categorical_drift(reference[column], current[column])
        except StageError as exc:
            raise StageError(f"{sources[1]} vs {sources[0]}: {exc}") from exc
        drifted = result["p_value"] < params.p_value and result["psi"] >= params.psi
        columns[column] = {**result, "drifted": bool(drifted)}
    n_drifted = sum(entry["drifted"] for entry in columns.values())
    return {
        "columns": columns,
        "n_columns": len(columns),
        "n_drifted": n_drifted,
        "share_drifted": n_drifted / len(columns) if columns else 0.0,
    }


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m stages.drift")
    parser.add_argument("--reference", required=True)
    parser.add_argument("--current", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args(argv)
    progress = Progress(SECTION)
    with removed_on_failure([args.metrics]):
        schema, params = load(SchemaParams), load(DriftParams)
        reference, current = read_split(args.reference), read_split(args.current)
        progress(f"comparing {len(current)} current rows with {len(reference)} reference rows")
        report = drift_report(reference, current, schema, params, (args.reference, args.current))
        write_json(args.metrics, report)
    progress(f"{report['n_drifted']} of {report['n_columns']} columns drifted")


if __name__ == "__main__":
    run_stage(SECTION, main)
