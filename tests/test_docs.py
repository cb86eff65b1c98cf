"""The docs stay true: the README is the user's door and fits, the reference in docs/ has a
page per command that documents every option `--help` lists, every page is in the MkDocs
nav, links resolve, and the worked examples are what the code prints or accepts.

The examples are checked against the code, not copied into the test: command output against
the golden files of tests/mlgate/golden (which test_golden_outputs.py pins byte for byte),
gate files with mlgate's own loader, params.yaml sections with the stages' pydantic models,
and the lineage block with mlgate.lineage, checksum included.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from mlgate.cli import cli
from mlgate.gates import gates_from_document
from mlgate.lineage import BEGIN, OK
from mlgate.lineage import parse as parse_lineage
from mlgate.loaders import parse_yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GOLDEN = ROOT / "tests" / "mlgate" / "golden"
README = (ROOT / "README.md").read_text(encoding="utf-8")
README_MAX_LINES = 260

# A fenced block: its indentation, its fence (``` or longer), its language, its text.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<lang>[\w-]*)[^\n]*\n"
    r"(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.M | re.S,
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def page_text(relative: str) -> str:
    return (DOCS / relative).read_text(encoding="utf-8")


def blocks(text: str, lang: str) -> list[str]:
    """The text of every fenced block of that language, dedented out of list items."""
    return [
        textwrap.dedent(match["body"]) for match in FENCE.finditer(text) if match["lang"] == lang
    ]


def doc_pages() -> list[str]:
    return sorted(path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md"))


# --- every command and option of --help is documented, on the command's own page -----------


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_the_command_page_documents_every_argument_and_option(name: str) -> None:
    page = DOCS / "commands" / f"{name}.md"
    assert page.is_file(), f"no page docs/commands/{name}.md for `mlgate {name}`"
    text = page.read_text(encoding="utf-8")
    assert f"mlgate {name}" in text, f"docs/commands/{name}.md never writes `mlgate {name}`"
    for param in cli.commands[name].params:
        if isinstance(param, click.Option) and not param.hidden:
            for option in (o for o in param.opts if o.startswith("--")):
                assert option in text, f"docs/commands/{name}.md does not document {option}"
        elif isinstance(param, click.Argument):
            word = param.human_readable_name
            assert word in text, f"docs/commands/{name}.md does not document {word}"


def test_the_commands_page_lists_every_command_and_the_tools_own_options() -> None:
    text = page_text("commands/index.md")
    for name in cli.commands:
        assert f"({name}.md)" in text, f"commands/index.md lacks {name}"
    for param in (p for p in cli.params if isinstance(p, click.Option) and not p.hidden):
        for option in (o for o in param.opts if o.startswith("--")):
            assert option in text, f"docs/commands/index.md does not document mlgate {option}"


# --- the README -------------------------------------------------------------------------------


def test_readme_quickstart_is_what_ci_runs() -> None:
    """.ci/run runs the README's test command, word for word."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    quickstart = README[README.index("## Quickstart") :]
    test_command = next(line for line in quickstart.splitlines() if "pytest" in line)
    assert test_command.strip() in ci


def test_readme_fits() -> None:
    lines = len(README.splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines (at most {README_MAX_LINES}): move reference to docs/"
    )


def _relative_links(text: str) -> Iterator[str]:
    text = re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))  # links in code are examples
    for target in LINK.findall(text):
        if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#"):
            yield target.split("#", 1)[0]


def test_readme_links_resolve_on_github() -> None:
    links = list(_relative_links(README))
    assert links, "the README links to no docs page"
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


@pytest.mark.parametrize("page", doc_pages())
def test_doc_links_resolve(page: str) -> None:
    """What mkdocs --strict checks, readable without mkdocs installed: a relative link goes
    to a page inside docs/ (a file outside it, such as BENCHMARKS.md, is not in the site)."""
    here = (DOCS / page).parent
    for link in _relative_links((DOCS / page).read_text(encoding="utf-8")):
        target = (here / link).resolve()
        assert target.is_file(), f"docs/{page} links to {link}, which does not exist"
        assert DOCS in target.parents, f"docs/{page} links to {link}, outside docs/"


# --- the MkDocs site ---------------------------------------------------------------------------


def _nav_pages(entry: Any) -> Iterator[str]:
    if isinstance(entry, str):
        if entry.endswith(".md"):
            yield entry
    elif isinstance(entry, dict):
        for value in entry.values():
            yield from _nav_pages(value)
    elif isinstance(entry, list):
        for item in entry:
            yield from _nav_pages(item)


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page() -> None:
    config = parse_yaml((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), "mkdocs.yml")
    nav = list(_nav_pages(config["nav"]))
    assert len(nav) == len(set(nav)), "a page is in the nav twice"
    pages = doc_pages()
    assert not sorted(set(pages) - set(nav)), (
        f"pages missing from mkdocs.yml nav: {sorted(set(pages) - set(nav))}"
    )
    assert not sorted(set(nav) - set(pages)), (
        f"mkdocs.yml nav names missing pages: {sorted(set(nav) - set(pages))}"
    )


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="mkdocs and mkdocs-material are not installed (pip install -e '.[dev]')",
)
def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]


# --- worked examples: command output is the golden files' ------------------------------------

GOLDEN_MARK = re.compile(r"<!-- golden: (?P<case>[\w.-]+) -->\n+")
GOLDEN_FILE = re.compile(
    r"\$ (?P<command>[^\n]*)\nexit (?P<exit>\d+)\n"
    r"--- stdout\n(?P<stdout>.*)--- stderr\n(?P<stderr>.*)\Z",
    re.S,
)
# what test_golden_outputs.py normalises: commit ids by the name of their commit, and so on
COMMITS = "initial|better|plain|damaged|feature|failing"  # the story's commits
PLACEHOLDER = re.compile(rf"<(ROOT|TIME|VERSION|(?:{COMMITS})(?::8|:12)?)>")
PLACEHOLDER_PATTERN = {"ROOT": r".+?", "TIME": r"[^\"\s]+", "VERSION": r"[\w.+-]+"}


def golden_example(case: str, lang: str) -> str:
    """What a docs block shows of a golden case: in a console block the command, its output
    (stdout then stderr) and, if not 0, its exit code; in a markdown block, stdout alone."""
    found = GOLDEN_FILE.match((GOLDEN / f"{case}.txt").read_text(encoding="utf-8"))
    assert found, f"tests/mlgate/golden/{case}.txt has an unexpected layout"
    if lang == "markdown":
        return found["stdout"]
    shown = f"$ {found['command']}\n{found['stdout']}{found['stderr']}"
    if found["exit"] != "0":
        shown += f"$ echo $?\n{found['exit']}\n"
    return shown


def as_pattern(golden: str) -> re.Pattern[str]:
    """The golden text as a regex: each placeholder matches a real value, a commit's id the
    same one each time it recurs (a commit's short id stays that commit's)."""
    parts: list[str] = []
    seen: set[str] = set()
    position = 0
    for match in PLACEHOLDER.finditer(golden):
        parts.append(re.escape(golden[position : match.start()]))
        name = match[1]
        group = "p_" + re.sub(r"\W", "_", name)
        if name in PLACEHOLDER_PATTERN:  # a path, a time, a version: each may differ
            parts.append(PLACEHOLDER_PATTERN[name])
        elif group in seen:
            parts.append(f"(?P={group})")
        else:
            seen.add(group)
            length = {"8": 8, "12": 12}.get(name.rpartition(":")[2], 40)
            parts.append(f"(?P<{group}>[0-9a-f]{{{length}}})")
        position = match.end()
    parts.append(re.escape(golden[position:]))
    return re.compile("".join(parts), re.S)


def golden_blocks() -> list[tuple[str, str, str, str]]:
    """(page, case, language, block text) for every `<!-- golden: case -->` in docs/."""
    found = []
    for page in doc_pages():
        text = (DOCS / page).read_text(encoding="utf-8")
        for mark in GOLDEN_MARK.finditer(text):
            block = FENCE.match(text, mark.end())  # None: the test below says so
            lang, body = (block["lang"], block["body"]) if block else ("no block", "")
            found.append((page, mark["case"], lang, body))
    return found


def test_the_docs_show_golden_output() -> None:
    cases = {case for _, case, _, _ in golden_blocks()}
    assert {"check_failing_text", "report_feature", "history_text", "release_first"} <= cases


@pytest.mark.parametrize(("page", "case", "lang", "body"), golden_blocks())
def test_a_shown_output_is_the_golden_one(page: str, case: str, lang: str, body: str) -> None:
    assert lang in ("console", "markdown"), f"docs/{page}: {case} is before {lang}, not a block"
    expected = golden_example(case, lang)
    if lang == "console":  # the command as the shell splits it, as the golden file joins it
        command, _, output = body.partition("\n")
        body = f"$ {' '.join(shlex.split(command.removeprefix('$ ')))}\n{output}"
    assert as_pattern(expected).fullmatch(body), (
        f"docs/{page}: the {case} example differs from tests/mlgate/golden/{case}.txt:\n{expected}"
    )


def test_a_golden_pattern_tells_a_changed_number_from_another_commit() -> None:
    """The check above can fail: a real sha passes, a changed value or sha length does not."""
    pattern = as_pattern("FAILED on <initial:8>, baseline <better:8> 0.8\n")
    assert pattern.fullmatch("FAILED on 0123abcd, baseline 89abcdef 0.8\n")
    assert not pattern.fullmatch("FAILED on 0123abcd, baseline 89abcdef 0.9\n")
    assert not pattern.fullmatch("FAILED on 0123abc, baseline 89abcdef 0.8\n")
    assert not as_pattern("<initial:8> <initial:8>").fullmatch("0123abcd 89abcdef")


# --- worked examples: gate files, params.yaml sections, the lineage block ---------------------


@pytest.mark.parametrize("page", ["docs/formats/gates.md", "README.md"])
def test_every_gates_example_parses_with_mlgate(page: str) -> None:
    examples = blocks((ROOT / page).read_text(encoding="utf-8"), "yaml")
    assert examples, f"{page} shows no gates"
    for number, example in enumerate(examples, 1):
        source = f"{page}, yaml block {number}"
        gates = gates_from_document(parse_yaml(example, source), source)
        assert gates.rules


def test_the_real_gate_files_parse_as_the_docs_say() -> None:
    for path in ("params.yaml", "monitoring/drift-gates.yaml"):
        text = (ROOT / path).read_text(encoding="utf-8")
        assert gates_from_document(parse_yaml(text, path), path).rules


def _section_models() -> dict[str, Any]:
    from stages import params

    return {
        model.SECTION: model
        for model in vars(params).values()
        if isinstance(model, type) and issubclass(model, params.Section) and model.SECTION
    }


PARAMS_PAGES = ("formats/params.md", "your-own-data.md")


@pytest.mark.parametrize("page", PARAMS_PAGES)
def test_every_params_example_is_valid_for_the_stages(page: str) -> None:
    """A `schema:` example is a whole section (a contract is written whole); another
    section's example is read over the repository's params.yaml section, as the keys it sets."""
    from stages.params import parse

    models = _section_models()
    ours = parse_yaml((ROOT / "params.yaml").read_text(encoding="utf-8"), "params.yaml")
    examples = blocks(page_text(page), "yaml")
    assert examples, f"docs/{page} has no yaml example"
    checked = 0
    for number, example in enumerate(examples, 1):
        document = parse_yaml(example, f"docs/{page}, yaml block {number}")
        for section, values in document.items():
            assert section in models, f"docs/{page} block {number}: no section {section!r}"
            merged = values if section == "schema" else {**ours[section], **values}
            parse(models[section], merged)
            checked += 1
    assert checked


def test_the_lineage_example_is_a_real_block() -> None:
    """It parses with its checksum, and it is the block mlgate show prints for that release
    in the golden story (v0.1.0 holds staging there)."""
    texts = blocks(page_text("formats/lineage.md"), "text")
    examples = [block for block in texts if BEGIN in block]
    assert len(examples) == 1
    found = parse_lineage(examples[0])
    assert found.status is OK, found.problem
    shown = GOLDEN_FILE.match((GOLDEN / "show_staging_json.txt").read_text(encoding="utf-8"))
    assert shown
    golden_block = json.loads(shown["stdout"])["block"]
    assert golden_block["version"] == found.data["version"] == "v0.1.0"
    as_text = json.dumps(found.data, indent=1, sort_keys=True)
    assert as_pattern(json.dumps(golden_block, indent=1, sort_keys=True)).fullmatch(as_text)
