"""The data contract as a pandera schema, declared from params.yaml `schema` + `validate`.

Numeric columns are float64 within inclusive bounds, categorical columns take only their
declared values, the target only its labels; no extra columns; at most `max_duplicate_share`
fully duplicated rows. `min_rows` counts the rows that pass (stages/validate.py checks it
after quarantine). The params themselves are checked by stages/params.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandera.pandas as pa

    from stages.params import SchemaParams, ValidateParams

DUPLICATE_CHECK = "max_duplicate_share"


def build_schema(
    contract: SchemaParams, limits: ValidateParams, labelled: bool = True
) -> pa.DataFrameSchema:
    """The pandera schema of a split. An unlabelled one (the current batch: production data)
    may lack the target column or leave it empty; the labels it has must still be valid."""
    import pandera.pandas as pa

    columns: dict[str, pa.Column] = {}
    for name, num in contract.numeric.items():
        checks = []
        if num.min is not None:
            checks.append(pa.Check.ge(num.min))
        if num.max is not None:
            checks.append(pa.Check.le(num.max))
        columns[name] = pa.Column(float, checks=checks, nullable=num.nullable, coerce=True)
    for name, cat in contract.categorical.items():
        columns[name] = pa.Column(
            str, checks=pa.Check.isin(list(cat.values)), nullable=cat.nullable
        )
    columns[contract.target] = pa.Column(
        str, checks=pa.Check.isin(list(contract.labels)), nullable=not labelled, required=labelled
    )

    def few_duplicates(frame: Any) -> bool:  # a pandas DataFrame
        return bool(frame.duplicated().mean() <= limits.max_duplicate_share)

    # a share of 1 allows every row to be a duplicate: nothing to count (scoring's batches)
    checks = (
        []
        if limits.max_duplicate_share >= 1
        else [pa.Check(few_duplicates, name=DUPLICATE_CHECK, element_wise=False)]
    )
    return pa.DataFrameSchema(
        columns,
        checks=checks,
        strict=True,
        name="params.yaml schema",
    )
