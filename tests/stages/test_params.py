"""params.yaml's sections, typed (stages/params.py): the repository's own params parse, and
every section refuses what it does not declare with one line naming the key."""

from __future__ import annotations

import pytest

from stages.common import StageError, load_params
from stages.params import (
    DriftParams,
    EvaluateParams,
    FeaturizeParams,
    IngestParams,
    ModelCardParams,
    SchemaParams,
    Section,
    TrainParams,
    ValidateParams,
    load,
    parse,
)
from tests.stages.stage_runner import REPO

MODELS = [
    IngestParams,
    SchemaParams,
    ValidateParams,
    FeaturizeParams,
    TrainParams,
    EvaluateParams,
    DriftParams,
    ModelCardParams,
]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.SECTION)
def test_the_repositorys_params_parse(model: type[Section]) -> None:
    params = load(model, REPO / "params.yaml")
    assert isinstance(params, model)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.SECTION)
def test_every_section_refuses_an_unknown_key(model: type[Section]) -> None:
    section = load_params(model.SECTION, REPO / "params.yaml")
    with pytest.raises(StageError) as error:
        parse(model, {**section, "typo": 1, "another": 2})
    assert str(error.value) == (
        f"params.yaml: unknown key(s) ['another', 'typo'] in '{model.SECTION}'"
    )


def test_a_nested_unknown_key_names_its_mapping() -> None:
    section = load_params("schema", REPO / "params.yaml")
    numeric = {**section["numeric"], "age": {"min": 16, "maximum": 100}}
    with pytest.raises(StageError, match=r"unknown key\(s\) \['maximum'\] in 'schema.numeric.age'"):
        parse(SchemaParams, {**section, "numeric": numeric})


def test_the_schema_reads_labels_and_values_as_the_datas_text() -> None:
    section = load_params("schema", REPO / "params.yaml")
    schema = parse(SchemaParams, {**section, "labels": [0, 1], "positive_label": 1})
    assert (schema.labels, schema.positive_label, schema.negative_label) == (("0", "1"), "1", "0")
    assert schema.numeric["fnlwgt"].min == 1.0 and schema.numeric["fnlwgt"].max is None
    assert schema.categorical["sex"].values == ("Female", "Male")


def test_a_params_value_is_read_only() -> None:
    params = load(DriftParams, REPO / "params.yaml")
    with pytest.raises(ValueError, match="frozen"):
        params.psi = 0.5  # type: ignore[misc]


def test_a_monitoring_section_written_before_model_rows_still_parses() -> None:
    """``monitoring.model_rows`` came later: a params.yaml without it scores 1,000,000 rows
    per model call, and a bad value still names the key."""
    from stages.params import MonitoringParams

    section = dict(load_params("monitoring", REPO / "params.yaml"))
    section.pop("model_rows")
    assert parse(MonitoringParams, section).model_rows == 1_000_000
    with pytest.raises(StageError, match="model_rows"):
        parse(MonitoringParams, {**section, "model_rows": 0})
