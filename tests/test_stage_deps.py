"""dvc.yaml declares, for each stage, exactly the code it runs: its script and every module of
the `stages` package it imports (directly or through another), with the package itself."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "stages"


def _imported_modules(path: Path) -> set[str]:
    """Modules of the stages package that `path` imports, at any depth in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PACKAGE:  # `from stages import x`
                found.update(f"{PACKAGE}.{alias.name}" for alias in node.names)
            elif node.module.startswith(f"{PACKAGE}."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(f"{PACKAGE}."))
    return found


def _code_of(module: str) -> set[str]:
    """Files run by `python -m <module>`: the package, the module, what they import."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_imported_modules(REPO / (name.replace(".", "/") + ".py")))
    return {f"{name.replace('.', '/')}.py" for name in seen} | {f"{PACKAGE}/__init__.py"}


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
