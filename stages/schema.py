"""The data contract: one pandera schema declared from params.yaml `schema` + `validate`.

Numeric columns are float64 within inclusive bounds, categorical columns take only their
declared values, the target only its labels; no extra columns; at most `max_duplicate_share`
fully duplicated rows. `min_rows` counts the rows that pass (stages/validate.py checks it
after quarantine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from stages.common import StageError, load_params, require, require_64_bits, require_number

if TYPE_CHECKING:
    import pandera.pandas as pa

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
class Schema:
    """`schema` of params.yaml, checked: what every stage that reads it relies on."""

    target: str
    labels: tuple[str, ...]
    positive_label: str
    sensitive: tuple[str, ...]
    numeric: Mapping[str, NumericSpec]
    categorical: Mapping[str, CategoricalSpec]

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]


@dataclass(frozen=True)
class DataContract(Schema):
    """The schema plus validate's own limits: what validate checks a split against."""

    min_rows: int
    max_duplicate_share: float


def _bound(spec: Mapping[str, Any], key: str, where: str) -> float | None:
    if spec.get(key) is None:
        return None
    return require_number(spec, key, where)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise StageError(f"params.yaml: '{where}' must be a mapping, got {type(value).__name__}")
    return value


def _spec(value: Any, where: str, keys: set[str]) -> Mapping[str, Any]:
    """A column's spec: a mapping of known keys, or nothing (null) for no constraints."""
    spec = _mapping({} if value is None else value, where)
    unknown = set(spec) - keys
    if unknown:
        raise StageError(f"params.yaml: unknown key(s) {sorted(unknown)} in '{where}'")
    return spec


def _nullable(spec: Mapping[str, Any], where: str) -> bool:
    return bool(require(spec, "nullable", bool, where)) if "nullable" in spec else False


def _repeated(items: list[Any]) -> list[Any]:
    """The items written more than once, sorted."""
    return sorted({item for item in items if items.count(item) > 1})


def _names(schema: Mapping[str, Any], key: str, integers: bool = False) -> list[str]:
    """A list of distinct strings under `schema.<key>`; with `integers`, whole numbers too,
    as their text (labels 0 and 1 are the data's "0" and "1", see validate.numbers_as_codes)."""
    names = require(schema, key, list, "schema")
    kinds = (str, int) if integers else (str,)
    if not all(isinstance(name, kinds) and not isinstance(name, bool) for name in names):
        what = "strings or whole numbers" if integers else "strings"
        raise StageError(f"params.yaml: 'schema.{key}' must be a list of {what}, got {names}")
    names = [str(require_64_bits(name, f"schema.{key}")) for name in names]
    repeated = _repeated(names)
    if repeated:
        raise StageError(f"params.yaml: 'schema.{key}' names {repeated} more than once")
    return list(names)


def parse_schema(schema: Mapping[str, Any]) -> Schema:
    """The `schema` section checked, or a StageError naming the bad key: each stage that
    reads it checks it first (validate is not the only way in: a stage runs alone too)."""
    numeric: dict[str, NumericSpec] = {}
    numeric_specs = _mapping(require(schema, "numeric", dict, "schema"), "schema.numeric")
    for column, raw in numeric_specs.items():
        where = f"schema.numeric.{column}"
        spec = _spec(raw, where, {"min", "max", "nullable"})
        lo, hi = _bound(spec, "min", where), _bound(spec, "max", where)
        if lo is not None and hi is not None and lo > hi:
            raise StageError(f"params.yaml: '{where}' has min {lo} > max {hi}")
        numeric[str(column)] = NumericSpec(lo, hi, _nullable(spec, where))
    categorical: dict[str, CategoricalSpec] = {}
    categorical_specs = _mapping(
        require(schema, "categorical", dict, "schema"), "schema.categorical"
    )
    for column, raw in categorical_specs.items():
        where = f"schema.categorical.{column}"
        spec = _spec(raw, where, {"values", "nullable"})
        values = [str(v) for v in require(spec, "values", list, where)]
        repeated = _repeated(values)
        if not values or repeated:
            problem = f"repeats {repeated}" if repeated else "is empty"
            raise StageError(f"params.yaml: '{where}.values' {problem}")
        categorical[str(column)] = CategoricalSpec(tuple(values), _nullable(spec, where))
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise StageError(f"params.yaml: 'schema' declares {both} both numeric and categorical")
    target = str(require(schema, "target", str, "schema"))
    if target in numeric or target in categorical:
        raise StageError(
            f"params.yaml: 'schema.target' {target!r} is also declared as a feature column"
        )
    labels = tuple(_names(schema, "labels", integers=True))
    if len(labels) != 2:
        raise StageError(
            f"params.yaml: 'schema.labels' must name two distinct classes, got {list(labels)}"
        )
    positive = str(require(schema, "positive_label", (str, int), "schema"))
    if positive not in labels:
        raise StageError(f"params.yaml: 'schema.positive_label' {positive!r} not in {list(labels)}")
    sensitive = tuple(_names(schema, "sensitive"))
    unknown_sensitive = [c for c in sensitive if c not in categorical]
    if unknown_sensitive:
        raise StageError(
            f"params.yaml: 'schema.sensitive' names {unknown_sensitive}, "
            "which are not categorical columns"
        )
    return Schema(target, labels, positive, sensitive, numeric, categorical)


def load_schema() -> dict[str, Any]:
    """params.yaml's `schema` section, checked (see parse_schema), with the labels as the
    text the validated data holds (`labels: [0, 1]` are "0" and "1")."""
    schema = load_params("schema")
    checked = parse_schema(schema)
    return {**schema, "labels": list(checked.labels), "positive_label": checked.positive_label}


def parse_contract(schema: Mapping[str, Any], validate: Mapping[str, Any]) -> DataContract:
    """Build the contract from the params sections, rejecting bad keys and types."""
    checked = parse_schema(schema)
    min_rows = require(validate, "min_rows", int, "validate")
    max_dup = require_number(validate, "max_duplicate_share", "validate")
    if min_rows < 1 or not 0 <= max_dup <= 1:
        raise StageError(
            "params.yaml: 'validate.min_rows' must be ≥ 1 and "
            "'validate.max_duplicate_share' within [0, 1]"
        )
    schema_fields = {field.name: getattr(checked, field.name) for field in fields(Schema)}
    return DataContract(**schema_fields, min_rows=min_rows, max_duplicate_share=max_dup)


def build_schema(contract: DataContract, labelled: bool = True) -> pa.DataFrameSchema:
    """The pandera schema of a split. An unlabelled one (the current batch: production data)
    may lack the target column or leave it empty; the labels it has must still be valid."""
    import pandera.pandas as pa  # here, not on import: every model stage checks the schema

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

    def few_duplicates(frame: Any) -> bool:  # a pandas DataFrame
        return bool(frame.duplicated().mean() <= contract.max_duplicate_share)

    return pa.DataFrameSchema(
        columns,
        checks=[pa.Check(few_duplicates, name=DUPLICATE_CHECK, element_wise=False)],
        strict=True,
        name="adult-income",
    )
