"""params.yaml, typed: one pydantic model per section a stage reads.

Each model refuses keys it does not declare, declares its types strictly (a bool is no
number, a float no count, text no number) and its bounds as `Field(ge=..., le=...)`; checks
that span keys are model validators. `parse` turns pydantic's `ValidationError` into the
stages' one `StageError` line, naming params.yaml and the dotted key:
`params.yaml: 'drift.p_value' must be in (0, 1), got 0.0`.

Models build their validators on first use (`defer_build`): a stage pays only for the
sections it reads. Importing pydantic costs each stage process ~0.2 CPU seconds (ingest
0.97 -> 1.19, drift 1.76 -> 1.98 against the hand-written checks, measured as in
stages/__init__.py); every stage reads its params, so every stage needs it, and nothing
outside the stages imports this module.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

from annotated_types import Ge, Gt, Le, Lt
from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from stages.common import PARAMS_FILE, StageError, load_params, optional_params

MAX_SEED = 2**32 - 1  # numpy's RandomState and scikit-learn's random_state
# timing passes over the whole split, shuffles of each column: more would take hours, not inform
MAX_REPEATS = 1000
TRAIN_FAMILIES = ("hist_gradient_boosting", "logistic_regression")  # see stages/train.py
IMPUTE_STRATEGIES = ("median", "mean")
# A batch id names files (monitoring/*/<id>.parquet, data/labelled/<id>.parquet): letters,
# digits, '.', '_', '-', at most 100, starting with a letter or digit (stages/score.py).
BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _problem(problem: str, key: str = "") -> PydanticCustomError:
    """An error whose message is `problem`, about the field it is raised for (plus `key`
    below it, for a model validator naming one of its fields)."""
    return PydanticCustomError("param", "{problem}", {"problem": problem, "key": key})


def _fits_64_bits(value: Any) -> Any:
    """numpy, pandas and scikit-learn count in 64 bits and overflow with a traceback beyond
    that; YAML reads any number of digits."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        raise _problem(
            f"is too large (an integer of {value.bit_length()} bits; numbers must fit in 64)"
        )
    return value


def _one_of(*choices: str) -> AfterValidator:
    def check(value: str) -> str:
        if value not in choices:
            raise _problem(f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    return AfterValidator(check)


def _repeated(items: list[Any]) -> list[Any]:
    """The items written more than once, sorted."""
    return sorted({item for item in items if items.count(item) > 1})


# An integer (never a bool) within 64 bits.
Int = Annotated[int, Strict(), BeforeValidator(_fits_64_bits)]
# A finite number, int or float (never a bool): NaN compares false with everything, so as a
# threshold or bound it would silently turn a check off, and infinity is no bound at all.
Number = Annotated[float, Strict(), AllowInfNan(False), BeforeValidator(_fits_64_bits)]
Text = Annotated[str, Strict()]
Flag = Annotated[bool, Strict()]
Share = Annotated[Number, Field(ge=0, le=1)]


def _text(value: Any) -> Any:
    return str(value)


Name = Annotated[str, BeforeValidator(_text)]  # a column name or category, as the data's text


class Section(BaseModel):
    """A params.yaml section (or a mapping inside one): unknown keys refused, read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    SECTION: ClassVar[str] = ""


M = TypeVar("M", bound=Section)


# --- ingest -------------------------------------------------------------------------------


def _encoding(value: str) -> str:
    try:
        text_encoding = getattr(codecs.lookup(value), "_is_text_encoding", True)
    except LookupError:
        text_encoding = False
    if not text_encoding:  # rot13, base64, hex are codecs, not text encodings
        raise _problem(f"is not a known text encoding: {value!r}")
    return value


def _comment(value: Any) -> Any:
    if value in (None, ""):  # no comment character
        return None
    if not isinstance(value, str) or len(value) != 1:
        raise _problem(f"must be one character or null, got {value!r}")
    return value


def is_batch_id(text: str) -> bool:
    """Whether `text` can name a batch's files (BATCH_ID, and no `..`)."""
    return bool(BATCH_ID.match(text)) and ".." not in text


def _batch_ids(value: Any) -> list[str]:
    """Distinct batch ids, as text (a YAML `202611` is the id "202611"); null is none."""
    ids = [] if value is None else _a_list(value)
    for item in ids:
        if isinstance(item, bool) or not isinstance(item, (str, int)) or not is_batch_id(str(item)):
            raise _problem(
                f"holds {str(item)[:80]!r}, which is no batch id (letters, digits, '.', '_' "
                "and '-', at most 100, starting with a letter or digit, as make score names it)"
            )
    text = [str(item) for item in ids]
    repeated = _repeated(text)
    if repeated:
        raise _problem(f"names {repeated} more than once")
    return text


class IngestParams(Section):
    SECTION: ClassVar[str] = "ingest"

    train_source: Text
    test_source: Text
    current_source: Text
    encoding: Annotated[Text, AfterValidator(_encoding)]
    label_column: Text
    header: Flag
    columns: list[Any] | None = None  # required without a header (see _columns_named)
    na_values: list[Name]
    # Off unless a dataset needs them (Adult does, see params.yaml): on by default they
    # would cut `unsure|yes` at the `|` and read a label `no.` as `no` in other data.
    comment: Annotated[str | None, BeforeValidator(_comment)] = None
    label_strip_suffix: Annotated[Text, BeforeValidator(lambda value: value or "")] = ""
    # Columns read and then left out (an exported index, an ID), by name as in the file or
    # snake_cased; a name a file lacks is skipped there (a batch may come without it).
    drop_columns: list[Name] = []
    # Labelled production batches (data/labelled/<id>.parquet, made by `make label-batch`)
    # appended in this order to the train source; `train_window` N keeps the last N listed.
    train_batches: Annotated[list[str], BeforeValidator(_batch_ids)] = []
    train_window: RowCount | None = None

    @property
    def batches_in_window(self) -> list[str]:
        """The listed batches ingest appends: all, or the last `train_window` of them."""
        if self.train_window is None:
            return list(self.train_batches)
        return list(self.train_batches[-self.train_window :])

    @model_validator(mode="after")
    def _columns_named(self) -> IngestParams:
        if self.header:
            return self  # a header names them: `columns` is not read
        if "columns" not in self.model_fields_set:
            raise PydanticCustomError("missing", "missing key", {"key": "columns"})
        if self.columns is None:
            raise _problem("must be list, got NoneType None", "columns")
        if not all(isinstance(name, str) for name in self.columns):
            problem = f"must be a list of column names (strings), got {self.columns!r}"
            raise _problem(problem[:270], "columns")
        return self

    @property
    def column_names(self) -> list[str]:
        """The names a headerless CSV's columns get ([] with a header)."""
        return [] if self.header else list(self.columns or [])

    def source(self, split: str) -> str:
        return str(getattr(self, f"{split}_source"))


# --- schema ---------------------------------------------------------------------------------


def _no_constraints(value: Any) -> Any:
    return {} if value is None else value  # a column written with nothing after it


class NumericSpec(Section):
    min: Number | None = None
    max: Number | None = None
    nullable: Flag = False

    @model_validator(mode="after")
    def _ordered(self) -> NumericSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise _problem(f"has min {self.min} > max {self.max}")
        return self


def _a_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _problem(f"must be list, got {type(value).__name__} {value!r}")
    return value


def _categories(values: Any) -> tuple[str, ...]:
    names = [str(value) for value in _a_list(values)]
    repeated = _repeated(names)
    if not names or repeated:
        raise _problem(f"repeats {repeated}" if repeated else "is empty")
    return tuple(names)


class CategoricalSpec(Section):
    values: Annotated[tuple[str, ...], BeforeValidator(_categories)]
    nullable: Flag = False


def _names(integers: bool) -> BeforeValidator:
    """Distinct strings; with `integers`, whole numbers too, as their text (labels 0 and 1
    are the data's "0" and "1", see validate.numbers_as_codes)."""
    kinds = (str, int) if integers else (str,)
    what = "strings or whole numbers" if integers else "strings"

    def check(value: Any) -> tuple[str, ...]:
        names = _a_list(value)
        if not all(isinstance(name, kinds) and not isinstance(name, bool) for name in names):
            raise _problem(f"must be a list of {what}, got {names}")
        text = [str(_fits_64_bits(name)) for name in names]
        repeated = _repeated(text)
        if repeated:
            raise _problem(f"names {repeated} more than once")
        return tuple(text)

    return BeforeValidator(check)


def _label(value: Any) -> str:
    """A label written as text or a whole number (0/1 labels), as the data's text."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _problem(f"must be str or int, got {type(value).__name__} {value!r}")
    return str(_fits_64_bits(value))


def _none_as(empty: Any) -> BeforeValidator:
    """A key written with nothing after it (`sensitive:`) is the empty value, as if omitted."""
    return BeforeValidator(lambda value: empty if value is None else value)


class SchemaParams(Section):
    """The data contract shared by validate, featurize, train, evaluate and drift.

    `categorical` and `sensitive` may be left out (data with only numeric columns, no
    fairness figures); every other key is required."""

    SECTION: ClassVar[str] = "schema"

    numeric: dict[Name, Annotated[NumericSpec, BeforeValidator(_no_constraints)]]
    categorical: Annotated[
        dict[Name, Annotated[CategoricalSpec, BeforeValidator(_no_constraints)]], _none_as({})
    ] = {}
    target: Text
    labels: Annotated[tuple[str, ...], _names(integers=True)]
    positive_label: Annotated[str, BeforeValidator(_label)]
    # before-validators run last-written first: null becomes [] before the list is checked
    sensitive: Annotated[tuple[str, ...], _names(integers=False), _none_as([])] = ()

    @model_validator(mode="after")
    def _consistent(self) -> SchemaParams:
        both = sorted(set(self.numeric) & set(self.categorical))
        if both:
            raise _problem(f"declares {both} both numeric and categorical")
        if self.target in self.numeric or self.target in self.categorical:
            raise _problem(f"{self.target!r} is also declared as a feature column", "target")
        if len(self.labels) != 2:
            raise _problem(f"must name two distinct classes, got {list(self.labels)}", "labels")
        if self.positive_label not in self.labels:
            problem = f"{self.positive_label!r} not in {list(self.labels)}"
            raise _problem(problem, "positive_label")
        not_categorical = [column for column in self.sensitive if column not in self.categorical]
        if not_categorical:
            problem = f"names {not_categorical}, which are not categorical columns"
            raise _problem(problem, "sensitive")
        return self

    @property
    def negative_label(self) -> str:
        return next(label for label in self.labels if label != self.positive_label)


# --- the stages' own sections ---------------------------------------------------------------


SPLITS = ("train", "test", "current")


def _at_least_one(value: int) -> int:
    if value < 1:
        raise _problem(f"must be >= 1, got {value}")
    return value


RowCount = Annotated[Int, AfterValidator(_at_least_one)]


class MinRows(Section):
    """`validate.min_rows` per split: the monitoring batch is often far smaller than train."""

    train: RowCount
    test: RowCount
    current: RowCount


def _per_split(value: Any) -> Any:
    """One number for every split, or a mapping by split (checked by MinRows)."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise _problem(
            f"must be int (every split) or a mapping of {', '.join(SPLITS)} to int, "
            f"got {type(value).__name__} {value!r}"
        )
    _fits_64_bits(value)
    _at_least_one(value)
    return dict.fromkeys(SPLITS, value)


class ValidateParams(Section):
    SECTION: ClassVar[str] = "validate"

    # counts the rows left after quarantine; one number, or {train: .., test: .., current: ..}
    min_rows: Annotated[MinRows, BeforeValidator(_per_split)]
    max_duplicate_share: Share
    max_quarantine_share: Share
    sample_failures: Annotated[Int, Field(ge=0)]  # failing rows shown per check

    def min_rows_of(self, split: str) -> tuple[str, int]:
        """The key that sets `split`'s minimum, as a message names it, and the minimum."""
        counts = {name: getattr(self.min_rows, name) for name in SPLITS}
        if len(set(counts.values())) == 1:
            return f"{self.SECTION}.min_rows", counts[split]
        return f"{self.SECTION}.min_rows.{split}", counts[split]


class FeaturizeParams(Section):
    SECTION: ClassVar[str] = "featurize"

    drop: list[Name]
    numeric_impute: Annotated[Text, _one_of(*IMPUTE_STRATEGIES)]
    min_category_frequency: Annotated[Int, Field(ge=1)]


# a family's hyperparameters, passed to scikit-learn (which checks them; see stages/train.py)
Hyperparameters = dict[Name, Annotated[Any, BeforeValidator(_fits_64_bits)]]


class TrainParams(Section):
    SECTION: ClassVar[str] = "train"

    model: Annotated[Text, _one_of(*TRAIN_FAMILIES)]
    seed: Annotated[Int, Field(ge=0, le=MAX_SEED)]
    hist_gradient_boosting: Hyperparameters | None = None  # null: the defaults
    logistic_regression: Hyperparameters | None = None

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The chosen family's hyperparameters."""
        return dict(getattr(self, self.model) or {})


class EvaluateParams(Section):
    SECTION: ClassVar[str] = "evaluate"

    threshold: Annotated[Number, Field(gt=0, lt=1)]
    seed: Annotated[Int, Field(ge=0, le=MAX_SEED)]
    importance_rows: Annotated[Int, Field(ge=10)]
    importance_repeats: Annotated[Int, Field(ge=1, le=MAX_REPEATS)]
    importance_top: Annotated[Int, Field(ge=1)]
    curve_points: Annotated[Int, Field(ge=2)]
    calibration_bins: Annotated[Int, Field(ge=2)]
    latency_rows: Annotated[Int, Field(ge=1)]
    batch_repeats: Annotated[Int, Field(ge=1, le=MAX_REPEATS)]


class DriftParams(Section):
    SECTION: ClassVar[str] = "drift"

    p_value: Annotated[Number, Field(gt=0, lt=1)]  # drifted = p_value below this ...
    psi: Annotated[Number, Field(ge=0)]  # ... and population stability index at least this
    psi_bins: Annotated[Int, Field(ge=2)]


# --- model_card (optional) -----------------------------------------------------------------

# A card is read by people and printed by `mlgate show`: a few short lines, not a document.
CARD_TEXT_CHARS = 500
CARD_ITEMS = 20


def _card_line(value: Any, item: str = "") -> str:
    if not isinstance(value, str) or not value.strip():
        problem = f"must be non-empty text, got {type(value).__name__} {value!r}"
        raise _problem(f"{item}{problem[:200]}")
    line = " ".join(value.split())  # one line: the card writes each as a list item
    if len(line) > CARD_TEXT_CHARS:
        raise _problem(f"{item}is {len(line)} characters long; at most {CARD_TEXT_CHARS}")
    return line


def _card_lines(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else _a_list(value)
    if len(items) > CARD_ITEMS:
        raise _problem(f"has {len(items)} items; at most {CARD_ITEMS}")
    return tuple(_card_line(line, f"item {n} ") for n, line in enumerate(items, 1))


CardLine = Annotated[str, BeforeValidator(_card_line)]
CardLines = Annotated[tuple[str, ...], BeforeValidator(_card_lines)]


class ModelCardParams(Section):
    """What only people can say about the model, for its card (stages/model_card.py): one
    line or a list of lines each. Every key is optional, and the card says "not stated" for
    what is left out; the section too, here, but DVC refuses to run a stage whose params
    key is missing, so params.yaml keeps it (`model_card: {}`) while dvc.yaml names it."""

    SECTION: ClassVar[str] = "model_card"

    summary: CardLine | None = None  # what the model predicts, from what
    owners: CardLines = ()
    intended_use: CardLines = ()
    out_of_scope: CardLines = ()  # uses it must not be put to
    data: CardLines = ()  # where the data comes from, when, what it stands for
    ethical_considerations: CardLines = ()
    caveats: CardLines = ()


class MonitorParams(Section):
    """`make monitor` (stages/monitor.py); the batch's id and paths come from
    monitoring/dvc.yaml."""

    SECTION: ClassVar[str] = "monitor"

    psi_bins: Annotated[Int, Field(ge=2, le=1000)]  # score quantile bins of prediction PSI
    # equal-frequency bins of the calibration error that decides whether CBPE calibrates
    calibration_bins: Annotated[Int, Field(ge=2, le=1000)]


class MonitoringParams(Section):
    """`make score`: scoring a batch with a released model (stages/score.py)."""

    SECTION: ClassVar[str] = "monitoring"

    id_column: Name  # the batch's row id, as in the file or snake_cased; rows numbered without
    chunk_rows: Annotated[Int, Field(ge=1)]  # rows read and checked at a time
    model_rows: Annotated[Int, Field(ge=1)] = 1_000_000  # rows that passed, scored in one call
    # the batch as a whole (validate's are per split): fewer rows passing the contract, or a
    # larger share quarantined, fails the batch; the monitoring gates judge the share too
    min_rows: RowCount
    max_quarantine_share: Share


# --- reading and errors ---------------------------------------------------------------------


def load(model: type[M], path: str | Path = PARAMS_FILE) -> M:
    """The model's section of params.yaml, checked, or a StageError naming the bad key."""
    return parse(model, load_params(model.SECTION, path))


def load_optional(model: type[M], path: str | Path = PARAMS_FILE) -> M | None:
    """The model's section of params.yaml, checked; None when params.yaml leaves it out."""
    section = optional_params(model.SECTION, path)
    return None if section is None else parse(model, section)


def parse(model: type[M], section: Mapping[str, Any]) -> M:
    """`section` (a params.yaml section as read) checked by `model`, or a StageError."""
    try:
        return model.model_validate(section)
    except ValidationError as exc:
        raise params_error(model, exc) from None


# What a strict type is called in a message, by pydantic's error type.
_KINDS = {
    "int_type": "int",
    "float_type": "int or float",
    "string_type": "str",
    "bool_type": "bool",
    "list_type": "list",
    "dict_type": "dict",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def params_error(model: type[Section], exc: ValidationError) -> StageError:
    """The one-line StageError for the first error pydantic found: params.yaml, the dotted
    key, what was expected and what was there."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    kind, loc, value = first["type"], tuple(map(str, first["loc"])), first["input"]
    if kind == "extra_forbidden":
        parent = loc[:-1]
        unknown = sorted(
            str(error["loc"][-1])
            for error in errors
            if error["type"] == "extra_forbidden" and tuple(map(str, error["loc"][:-1])) == parent
        )
        where = ".".join([model.SECTION, *parent])
        return StageError(f"{PARAMS_FILE}: unknown key(s) {unknown} in '{where}'")
    key = ".".join([model.SECTION, *loc, *filter(None, [(first.get("ctx") or {}).get("key")])])
    got = f"{type(value).__name__} {value!r}"
    if kind == "missing":
        return StageError(f"{PARAMS_FILE}: missing key '{key}'")
    if kind in _KINDS:
        return StageError(f"{PARAMS_FILE}: '{key}' must be {_KINDS[kind]}, got {got}")
    if kind == "finite_number":
        return StageError(f"{PARAMS_FILE}: '{key}' must be a finite number, got {value}")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        field = model.model_fields[loc[0]]
        if field.annotation is float:
            value = float(value)  # as the stage reads it: 0 is 0.0
        return StageError(f"{PARAMS_FILE}: '{key}' must be {_bounds(field)}, got {value}")
    return StageError(f"{PARAMS_FILE}: '{key}' {first['msg']}")


_SIGNS = {Ge: (">=", "ge"), Gt: (">", "gt"), Le: ("<=", "le"), Lt: ("<", "lt")}


def _bounds(field: FieldInfo) -> str:
    """A field's declared bounds as the messages write them: `in (0, 1)`, `within [1, 1000]`,
    `>= 2`."""
    low = next((item for item in field.metadata if isinstance(item, (Ge, Gt))), None)
    high = next((item for item in field.metadata if isinstance(item, (Le, Lt))), None)
    if isinstance(low, Ge) and isinstance(high, Le):
        return f"within [{low.ge}, {high.le}]"
    if isinstance(low, Gt) and isinstance(high, Lt):
        return f"in ({low.gt}, {high.lt})"
    return " and ".join(
        f"{_SIGNS[type(bound)][0]} {getattr(bound, _SIGNS[type(bound)][1])}"
        for bound in (low, high)
        if bound is not None
    )
