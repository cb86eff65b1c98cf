"""The adapter to DVC: hostile files are one-line errors, and the metrics and params files
DVC's resolver gives agree with `dvc metrics show` and `dvc params diff` on many layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlgate.cli import cli
from mlgate.errors import ConfigError, InputError
from mlgate.gitio import Snapshot, snapshot
from mlgate.loaders import MAX_DEPTH, parse_structured, parse_yaml
from mlgate.metrics import metrics_files, params_files, read_dvc_yaml, read_metrics
from tests.mlgate.repo_factory import DVC_YAML, ScratchRepo
from tests.mlgate.test_check_repo import dvc_metrics_files


def alias_bomb(key: str = "lol") -> str:
    """A "billion laughs": nine levels of nine aliases, 9**9 values once expanded."""
    lines = [f'{key}0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        lines.append(f"{key}{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


DEPTH = 100_000


def deep_yaml(key: str = "deep") -> str:
    return f"{key}: " + "[" * DEPTH + "]" * DEPTH + "\n"


def deep_json(key: str = "deep") -> str:
    return f'{{"{key}": ' + "[" * DEPTH + "]" * DEPTH + "}"


def test_an_alias_bomb_is_small_and_refused() -> None:
    assert len(alias_bomb().encode()) < 1024
    with pytest.raises(ConfigError, match=r"^p.yaml: malformed YAML \(aliases expand to more"):
        parse_yaml(alias_bomb(), "p.yaml")
    with pytest.raises(ConfigError, match="^p.yaml: malformed YAML"):
        parse_yaml("a: &a [*a]\n", "p.yaml")  # an alias inside its own anchor


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("m.yaml", deep_yaml()),
        ("m.json", deep_json()),
        ("m.toml", "deep = " + "[" * DEPTH + "]" * DEPTH),
        ("m.yaml", "deep: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)),
        ("m.json", "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)),
        ("m.yaml", alias_bomb()),
    ],
)
def test_a_document_too_deep_or_too_large_is_one_input_error(path: str, text: str) -> None:
    kind = path.rsplit(".", 1)[1].upper()
    with pytest.raises(InputError, match=f"^{path}: malformed {kind} ") as caught:
        parse_structured(text, path, path)
    assert "\n" not in str(caught.value)


def test_documents_within_the_limits_read_as_before() -> None:
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert parse_yaml(f"a: {nested}\n", "p.yaml") is not None
    assert parse_structured(nested, "m.json", "m.json") is not None
    merged = "base: &b {lr: 0.1}\nrun:\n  <<: *b\n  seed: 1\n"
    assert parse_yaml(merged, "p.yaml") == {"base": {"lr": 0.1}, "run": {"lr": 0.1, "seed": 1}}


HOSTILE = {"alias bomb": alias_bomb, "nested 100,000 deep": deep_yaml}


@pytest.mark.parametrize("hostile", list(HOSTILE))
@pytest.mark.parametrize("path", ["dvc.yaml", "params.yaml", "dvc.lock", "extra.yaml", "vars.yaml"])
def test_hostile_files_are_one_error_line_from_mlgate_check(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, path: str, hostile: str
) -> None:
    """Every file `mlgate check` parses (the pipeline, params, lock, a metrics file, a vars
    file DVC's resolver loads) refuses an alias bomb and a deep document in one line."""
    scratch_repo.write("dvc.yaml", {**DVC_YAML, "vars": ["vars.yaml"], "metrics": ["extra.yaml"]})
    scratch_repo.write("vars.yaml", {"unused": 1})
    scratch_repo.write("extra.yaml", {"score": 1})
    scratch_repo.commit("vars and extra metrics")
    content = HOSTILE[hostile]()
    if path in ("dvc.yaml", "params.yaml", "dvc.lock"):  # keep the rest of the file
        content = scratch_repo.read(path) + content
    scratch_repo.write(path, content)
    scratch_repo.commit(f"hostile {path}")
    monkeypatch.chdir(scratch_repo.root)
    result = CliRunner().invoke(cli, ["check", "--rev", "HEAD"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith(f"mlgate: error: {path} at HEAD ("), lines[0]
    assert "malformed YAML" in lines[0]


def test_a_deep_json_metrics_file_is_one_error_line(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch_repo.write("metrics/metrics.json", deep_json("roc_auc"))
    scratch_repo.commit("deep metrics")
    monkeypatch.chdir(scratch_repo.root)
    result = CliRunner().invoke(cli, ["check", "--rev", "HEAD"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and "metrics/metrics.json at HEAD (" in lines[0], result.output
    assert "malformed JSON (nested too deep)" in lines[0]


LAYOUT_PARAMS = {
    "seed": 3,
    "models": {"tree": {"depth": 3}, "linear": {"depth": 0}},
}

# A nested dvc.yaml: vars from its own params.yaml (the default) and a local vars file;
# foreach over a list and over a mapping, a matrix, wdir, and a stage whose metrics output
# is a directory.
LAYOUT_DVC_YAML = {
    "vars": ["cfg.yaml"],
    "stages": {
        "folds": {
            "foreach": "${folds}",
            "do": {
                "cmd": "true",
                "wdir": "runs/${item}",
                "metrics": [{"m.json": {"cache": False}}],
            },
        },
        "models": {
            "foreach": "${models}",
            "do": {
                "cmd": "true",
                "params": [{"tuning/${key}.yaml": ["lr"]}],
                "metrics": [{"models/${key}-${item.depth}.json": {"cache": False}}],
            },
        },
        "grid": {
            "matrix": {"lr": "${grid.lr}", "m": ["a", "b"]},
            "cmd": "true",
            "metrics": [{"grid/${item.m}-${item.lr}.json": {"cache": False}}],
        },
        "evals": {
            "cmd": "true",
            "wdir": "ev",
            "params": ["seed"],
            "metrics": [{"out-${seed}": {"cache": False}}],
        },
    },
}


def test_many_layouts_agree_with_dvc_metrics_show_and_params_diff(
    scratch_repo: ScratchRepo,
) -> None:
    scratch_repo.write("sub/dvc.yaml", LAYOUT_DVC_YAML)
    scratch_repo.write("sub/params.yaml", LAYOUT_PARAMS)
    scratch_repo.write("sub/ev/params.yaml", {"seed": 3})
    scratch_repo.write("sub/cfg.yaml", {"folds": [1, 2], "grid": {"lr": [0.1, 0.2]}})
    expected = {
        "metrics/metrics.json",  # the root pipeline's
        "sub/runs/1/m.json",
        "sub/runs/2/m.json",
        "sub/models/tree-3.json",
        "sub/models/linear-0.json",
        "sub/ev/out-3/a.json",
        "sub/ev/out-3/deep/b.yaml",
    }
    expected |= {f"sub/grid/{m}-{lr}.json" for m in "ab" for lr in (0.1, 0.2)}
    for path in expected - {"metrics/metrics.json"}:
        scratch_repo.write(path, {"score": 1})
    for model in LAYOUT_PARAMS["models"]:
        scratch_repo.write(f"sub/tuning/{model}.yaml", {"lr": 0.1})
    scratch_repo.commit("many layouts")

    assert dvc_metrics_files(scratch_repo.root) == expected
    shown = scratch_repo.dvc("params", "diff", "HEAD~1", "--all", "--json").stdout
    dvc_params = set(json.loads(shown))
    for snap in (Snapshot(scratch_repo.root), snapshot(scratch_repo.root, "HEAD", "")):
        found = metrics_files(snap, read_dvc_yaml(snap))
        assert set(found) == expected and len(found) == len(expected)
        assert read_metrics(snap, found).files["sub/ev/out-3/deep/b.yaml"] == {"score": 1}
        assert set(params_files(snap, read_dvc_yaml(snap))) == dvc_params
    assert dvc_params == {
        "params.yaml",
        "sub/params.yaml",  # its models and seed are used by templates: DVC tracks them
        "sub/cfg.yaml",
        "sub/tuning/tree.yaml",
        "sub/tuning/linear.yaml",
        "sub/ev/params.yaml",
    }


def test_a_vars_file_at_a_commit_is_read_from_git_objects(
    scratch_repo: ScratchRepo, tmp_path: Path
) -> None:
    """The resolver reads vars files at the snapshot's commit, not from the working tree."""
    scratch_repo.write("sub/dvc.yaml", {"vars": ["v.yaml"], "metrics": ["${name}.json"]})
    scratch_repo.write("sub/v.yaml", {"name": "committed"})
    scratch_repo.commit("vars")
    scratch_repo.write("sub/v.yaml", {"name": "edited"})
    at_head = snapshot(scratch_repo.root, "HEAD", "")
    assert "sub/committed.json" in metrics_files(at_head, read_dvc_yaml(at_head))
    worktree = Snapshot(scratch_repo.root)
    assert "sub/edited.json" in metrics_files(worktree, read_dvc_yaml(worktree))


def test_commits_that_say_the_same_share_one_resolution(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit whose dvc.yaml, named vars files and used params equal another's is answered
    from that one's resolution (as experiments differ from their parent): what it gives is
    exactly what resolving it alone gives, and a change to anything it uses is resolved anew."""
    from mlgate import dvcadapter

    pipeline = {
        "vars": ["v.yaml", {"paths": {"valid_train": "data/valid_train.csv"}}],
        "stages": {
            "train": {
                "cmd": "python train.py --lr ${train.lr} ${paths.valid_train} ${name}",
                "outs": ["model.pkl"],
                "metrics": [{"${name}.json": {"cache": False}}],
            }
        },
    }
    scratch_repo.write("dvc.yaml", pipeline)
    scratch_repo.write("v.yaml", {"name": "m"})
    commits = {}

    def commit(label: str, params: dict[str, object], name: str = "m") -> None:
        scratch_repo.write("params.yaml", params)
        scratch_repo.write("v.yaml", {"name": name})
        commits[label] = scratch_repo.commit(label)

    # `train` is used (train.lr), `valid` not (`paths.valid_train` is another name)
    commit("base", {"train": {"lr": 0.1}, "valid": 1})
    commit("unused param", {"train": {"lr": 0.1}, "valid": 2})
    commit("used param", {"train": {"lr": 0.2}, "valid": 2})
    commit("vars file", {"train": {"lr": 0.2}, "valid": 2}, name="n")
    resolved: list[str] = []
    real = dvcadapter._resolve

    def counting(snap: Snapshot, *args: object) -> object:
        resolved.append(snap.sha or "")
        return real(snap, *args)  # type: ignore[arg-type]

    def at(label: str) -> dvcadapter.Pipeline:
        snap = Snapshot(scratch_repo.root, commits[label], label)
        return dvcadapter.resolve(snap, "dvc.yaml", read_dvc_yaml(snap))

    dvcadapter._RESOLVED.clear()
    alone = {label: at(label) for label in commits}  # each its own: the truth
    dvcadapter._RESOLVED.clear()
    monkeypatch.setattr(dvcadapter, "_resolve", counting)
    shared = {label: at(label) for label in commits}
    assert shared == alone
    assert resolved == [commits["base"], commits["used param"], commits["vars file"]]
    assert "--lr 0.2" in shared["used param"].stages["train"]["cmd"]
    assert shared["vars file"].metrics == [] and "n.json" in str(shared["vars file"].stages)
    assert shared["unused param"].where == "dvc.yaml at unused param"


def test_a_commit_is_never_answered_from_another_when_its_own_would_fail(
    scratch_repo: ScratchRepo,
) -> None:
    """A broken params.yaml (DVC loads it whether used or not) or a stage naming its own vars
    file: resolved for that commit alone, with its own error."""
    from mlgate import dvcadapter

    scratch_repo.write("dvc.yaml", {"stages": {"s": {"cmd": "echo ${a}", "outs": ["o"]}}})
    scratch_repo.write("params.yaml", {"a": 1, "b": 1})
    good = scratch_repo.commit("good")
    (scratch_repo.root / "params.yaml").write_text("a: 1\nb: [\n")
    broken = scratch_repo.commit("broken params")
    dvcadapter._RESOLVED.clear()
    at_good = Snapshot(scratch_repo.root, good, "good")
    dvcadapter.resolve(at_good, "dvc.yaml", read_dvc_yaml(at_good))
    at_broken = Snapshot(scratch_repo.root, broken, "broken")
    with pytest.raises(ConfigError, match="params.yaml"):
        dvcadapter.resolve(at_broken, "dvc.yaml", read_dvc_yaml(at_broken))
    stage_vars = {"stages": {"s": {"vars": ["v.yaml"], "cmd": "echo ${x}", "outs": ["o"]}}}
    assert dvcadapter._content_key(at_good, "dvc.yaml", stage_vars) is None


def test_dvc_parses_each_expression_once_and_still_raises_every_time(
    scratch_repo: ScratchRepo,
) -> None:
    """The memo on DVC's expression parser (shared by mlgate's resolution and `dvc status`
    in the same process) answers repeats from memory, gives what parsing gives, and never
    keeps an error: a broken `${...}` fails with DVC's own message at every resolution."""
    from dvc.parsing import interpolate

    from mlgate import dvcadapter

    dvcadapter._parse_each_expression_once()
    parse = interpolate.parse_expr
    assert parse("train.lr") == parse.__wrapped__("train.lr") == "train.lr"  # type: ignore[attr-defined]
    assert parse("a[0].b") == parse.__wrapped__("a[0].b")  # type: ignore[attr-defined]
    before = parse.cache_info().hits  # type: ignore[attr-defined]
    parse("train.lr")
    assert parse.cache_info().hits == before + 1  # type: ignore[attr-defined]
    dvcadapter._parse_each_expression_once.__wrapped__()  # again: not wrapped twice
    assert interpolate.parse_expr is parse

    scratch_repo.write("dvc.yaml", {"stages": {"s": {"cmd": "echo ${a.}", "outs": ["o"]}}})
    scratch_repo.write("params.yaml", {"a": 1})
    worktree = Snapshot(scratch_repo.root)
    for _ in range(2):
        dvcadapter._RESOLVED.clear()
        with pytest.raises(ConfigError, match="dvc.yaml: failed to parse 'stages.s.cmd'"):
            dvcadapter.resolve(worktree, "dvc.yaml", read_dvc_yaml(worktree))


def test_a_dvc_without_the_expression_parser_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dvc.parsing import interpolate

    from mlgate import dvcadapter

    monkeypatch.delattr(interpolate, "parse_expr")
    dvcadapter._parse_each_expression_once.__wrapped__()
    assert not hasattr(interpolate, "parse_expr")
