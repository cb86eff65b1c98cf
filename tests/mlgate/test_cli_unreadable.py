"""Files that exist but cannot be read (not UTF-8, a directory, a wrong shape) and outputs
that cannot be written: one `mlgate: error:` line naming the file and exit 2, no traceback."""

from __future__ import annotations

import pytest

from tests.mlgate.registry_repo import Published, published

__all__ = ["published"]


def one_error(published: Published, *args: str) -> str:
    result = published.mlgate(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlgate: error: "), result.stderr
    return lines[0]


def test_a_gates_file_that_is_not_utf8(published: Published) -> None:
    (published.root / "g.yaml").write_bytes(b"gates:\n  rules: []\n# caf\xe9\n")
    message = one_error(published, "check", "--allow-stale", "--gates", "g.yaml")
    assert "g.yaml: not valid UTF-8 text" in message


@pytest.mark.parametrize("command", [["history"], ["promote", "v0.0.1", "dev", "--no-push"]])
def test_a_dvc_yaml_that_is_not_utf8(published: Published, command: list[str]) -> None:
    with (published.root / "dvc.yaml").open("ab") as handle:
        handle.write(b"# \xff\n")
    assert "dvc.yaml: not valid UTF-8 text" in one_error(published, *command)


def test_a_gto_config_that_is_a_directory_or_not_utf8(published: Published) -> None:
    gto = published.root / ".gto"
    gto.write_bytes(b"stages: [d\xe9v]\n")
    assert ".gto: not valid UTF-8 text" in one_error(published, "promote", "v0.0.1", "dev")
    gto.unlink()
    gto.mkdir()
    assert ".gto: cannot read" in one_error(published, "promote", "v0.0.1", "dev")


def test_an_artifact_that_is_not_a_mapping(published: Published) -> None:
    import yaml

    dvc_yaml = yaml.safe_load((published.root / "dvc.yaml").read_text())
    dvc_yaml["artifacts"] = {"model": "models/model.pkl"}
    (published.root / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml))
    message = one_error(published, "history")
    assert "artifact 'model' must be a mapping (type, path, ...), got str" in message


def test_a_report_output_that_cannot_be_written(published: Published) -> None:
    message = one_error(published, "report", "--base", "HEAD", "--output", "no/such/dir/r.md")
    assert "no/such/dir/r.md: cannot write the report" in message
