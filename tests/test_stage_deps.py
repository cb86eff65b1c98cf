"""dvc.yaml declares, for each stage, exactly the code it runs: its script and every module of
the `stages` package it imports (directly or through another), with the package itself, and
the modules of `mlgate` those import (the YAML loader params.yaml is read with)."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# Where each first-party package's modules live.
PACKAGES = {"stages": "stages", "mlgate": "src/mlgate"}


def _file(module: str) -> str:
    package, _, rest = module.partition(".")
    return (
        "/".join([PACKAGES[package], *rest.split(".")]) + ".py"
        if rest
        else (f"{PACKAGES[package]}/__init__.py")
    )


def _imported_modules(path: Path) -> set[str]:
    """First-party modules that `path` imports, at any depth in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            package = node.module.partition(".")[0]
            if package not in PACKAGES:
                continue
            if node.module == package:  # `from stages import x`, `from mlgate import y`
                found.update(
                    f"{package}.{alias.name}"
                    for alias in node.names
                    if (REPO / PACKAGES[package] / f"{alias.name}.py").exists()
                )
            else:
                found.add(node.module)
            found.add(package)  # importing a module runs its package's __init__ first
        elif isinstance(node, ast.Import):
            for alias in node.names:
                package = alias.name.partition(".")[0]
                if package in PACKAGES and "." in alias.name:
                    found.update({alias.name, package})
    return found


def _code_of(module: str) -> set[str]:
    """Files run by `python -m <module>`: the package, the module, what they import."""
    seen: set[str] = set()
    todo = [module, "stages"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_imported_modules(REPO / _file(name)))
    return {_file(name) for name in seen}


def test_every_stage_declares_exactly_the_code_it_runs() -> None:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert stages, "dvc.yaml has no stages"
    for name, stage in stages.items():
        words = stage["cmd"].split()
        module = words[words.index("-m") + 1]
        declared = {dep for dep in stage["deps"] if str(dep).endswith(".py")}
        assert declared == _code_of(module), name


def test_the_walk_follows_imports_between_stage_modules() -> None:
    # train imports featurize's feature_groups; featurize imports modelio: all of them count
    assert {"stages/featurize.py", "stages/modelio.py"} <= _code_of("stages.train")
