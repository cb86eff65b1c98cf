"""The data contract: one pandera schema declared from params.yaml `schema` + `validate`.

Numeric columns are float64 within inclusive bounds, categorical columns take only their
declared values, the target only its labels; no extra columns; at most `max_duplicate_share`
fully duplicated rows. `min_rows` counts the rows that pass (stages/validate.py checks it
after quarantine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pandera.pandas as pa

from stages.common import StageError, require, require_number

DUPLICATE_CHECK = "max_duplicate_share"


@dataclass(frozen=True)
class NumericSpec:
    minimum: float | None
    maximum: float | None
    nullable: bool


@dataclass(frozen=True)
class CategoricalSpec:
    values: tuple[str, ...]
    nullable: bool


@dataclass(frozen=True)
class DataContract:
    target: str
    labels: tuple[str, ...]
    positive_label: str
    sensitive: tuple[str, ...]
    numeric: Mapping[str, NumericSpec]
    categorical: Mapping[str, CategoricalSpec]
    min_rows: int
    max_duplicate_share: float

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def _bound(spec: Mapping[str, Any], key: str, where: str) -> float | None:
    if spec.get(key) is None:
        return None
    return require_number(spec, key, where)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise StageError(f"params.yaml: '{where}' must be a mapping, got {type(value).__name__}")
    return value


def parse_contract(schema: Mapping[str, Any], validate: Mapping[str, Any]) -> DataContract:
    """Build the contract from the params sections, rejecting bad keys and types."""
    numeric: dict[str, NumericSpec] = {}
    for column, spec in _mapping(
        require(schema, "numeric", dict, "schema"), "schema.numeric"
    ).items():
        where = f"schema.numeric.{column}"
        spec = _mapping(spec or {}, where)
        unknown = set(spec) - {"min", "max", "nullable"}
        if unknown:
            raise StageError(f"params.yaml: unknown key(s) {sorted(unknown)} in '{where}'")
        lo, hi = _bound(spec, "min", where), _bound(spec, "max", where)
        if lo is not None and hi is not None and lo > hi:
            raise StageError(f"params.yaml: '{where}' has min {lo} > max {hi}")
        numeric[str(column)] = NumericSpec(lo, hi, bool(spec.get("nullable", False)))
    categorical: dict[str, CategoricalSpec] = {}
    for column, spec in _mapping(
        require(schema, "categorical", dict, "schema"), "schema.categorical"
    ).items():
        where = f"schema.categorical.{column}"
        spec = _mapping(spec or {}, where)
        unknown = set(spec) - {"values", "nullable"}
        if unknown:
            raise StageError(f"params.yaml: unknown key(s) {sorted(unknown)} in '{where}'")
        values = require(spec, "values", list, where)
        categorical[str(column)] = CategoricalSpec(
            tuple(str(v) for v in values), bool(spec.get("nullable", False))
        )
    labels = tuple(str(v) for v in require(schema, "labels", list, "schema"))
    if len(set(labels)) != 2:
        raise StageError(
            f"params.yaml: 'schema.labels' must name two distinct classes, got {list(labels)}"
        )
    positive = str(require(schema, "positive_label", str, "schema"))
    if positive not in labels:
        raise StageError(f"params.yaml: 'schema.positive_label' {positive!r} not in {list(labels)}")
    sensitive = tuple(str(v) for v in require(schema, "sensitive", list, "schema"))
    unknown_sensitive = [c for c in sensitive if c not in categorical]
    if unknown_sensitive:
        raise StageError(
            f"params.yaml: 'schema.sensitive' names {unknown_sensitive}, "
            "which are not categorical columns"
        )
    min_rows = require(validate, "min_rows", int, "validate")
    max_dup = require_number(validate, "max_duplicate_share", "validate")
    if min_rows < 1 or not 0 <= max_dup <= 1:
        raise StageError(
            "params.yaml: 'validate.min_rows' must be ≥ 1 and "
            "'validate.max_duplicate_share' within [0, 1]"
        )
    return DataContract(
        target=str(require(schema, "target", str, "schema")),
        labels=labels,
        positive_label=positive,
        sensitive=sensitive,
        numeric=numeric,
        categorical=categorical,
        min_rows=min_rows,
        max_duplicate_share=max_dup,
    )


def build_schema(contract: DataContract, labelled: bool = True) -> pa.DataFrameSchema:
    """The pandera schema of a split. An unlabelled one (the current batch: production data)
    may lack the target column or leave it empty; the labels it has must still be valid."""
    columns: dict[str, pa.Column] = {}
    for name, num in contract.numeric.items():
        checks = []
        if num.minimum is not None:
            checks.append(pa.Check.ge(num.minimum))
        if num.maximum is not None:
            checks.append(pa.Check.le(num.maximum))
        columns[name] = pa.Column(float, checks=checks, nullable=num.nullable, coerce=True)
    for name, cat in contract.categorical.items():
        columns[name] = pa.Column(
            str, checks=pa.Check.isin(list(cat.values)), nullable=cat.nullable
        )
    columns[contract.target] = pa.Column(
        str, checks=pa.Check.isin(list(contract.labels)), nullable=not labelled, required=labelled
    )

    def few_duplicates(frame: pd.DataFrame) -> bool:
        return bool(frame.duplicated().mean() <= contract.max_duplicate_share)

    return pa.DataFrameSchema(
        columns,
        checks=[pa.Check(few_duplicates, name=DUPLICATE_CHECK, element_wise=False)],
        strict=True,
        name="adult-income",
    )
